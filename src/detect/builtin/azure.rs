//! Built-in rules: Microsoft Azure: Entra ID client secrets, storage and
//! Cosmos DB account keys, Service Bus / Event Hubs shared access keys, SAS
//! signatures, Azure DevOps PATs, and the identifiable keys of other
//! services.
//!
//! Microsoft's newer keys carry a fixed signature inside the random part
//! (`Q~` in client secrets, `+ASt` in storage keys, `JQQJ9` in the 84-char
//! "common annotated" keys): those are found anywhere, the rule looking back
//! from the signature for the key's start. Older keys are plain base64 and
//! found only after their key name (`AccountKey=`, `SharedAccessKey=`,
//! `sig=`, a `*_DEVOPS_*` setting).

use super::context::run_before;
use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // Entra ID (Azure AD) application client secrets: 3 characters, a
    // version digit, `Q~`, then 31 to 34 more.
    Def {
        pre: Some(client_secret_pre),
        back: Some(4),
        fwd: 40,
        group: 1,
        word_start: false,
        entropy: Some(3.0),
        ..tok(
            "azure-ad-client-secret",
            &["7q~", "8q~"],
            r"(?:^|[^~.A-Za-z0-9_\-])([~.A-Za-z0-9_\-]{3}[78]Q~[~.A-Za-z0-9_\-]{31,34})(?:[^~.A-Za-z0-9_\-]|$)",
        )
    },
    // Storage account keys with Microsoft's signature: 76, `+ASt`, 8.
    Def {
        pre: Some(storage_pre),
        back: Some(77),
        fwd: 12,
        group: 1,
        word_start: false,
        ..tok(
            "azure-storage-account-key",
            &["+ast"],
            r"(?:^|[^A-Za-z0-9+/_\-])([A-Za-z0-9+/]{76}\+ASt[A-Za-z0-9+/]{5}[AQgw]==)(?:[^A-Za-z0-9+/=_\-]|$)",
        )
    },
    // Older 88-character account keys (storage, Cosmos DB) after their
    // name: `AccountKey=` in connection strings, `AZURE_STORAGE_KEY`,
    // `--account-key`.
    Def {
        fwd: 140,
        group: 1,
        word_start: false,
        entropy: Some(4.0),
        ..tok(
            "azure-storage-account-key",
            &[
                "accountkey",
                "account_key",
                "account-key",
                "account.key",
                "storagekey",
                "storage_key",
                "storage-key",
            ],
            concat!(
                r"(?i:account|storage)[_.\-]?(?i:access[_.\-]?)?(?i:key)(?:",
                assign!(),
                r#"|\s{1,4}["']?)([A-Za-z0-9+/]{86}==)(?:[^A-Za-z0-9+/=]|$)"#
            ),
        )
    },
    // Cosmos DB keys with Microsoft's signature: 76, `ACDb`, 8.
    Def {
        pre: Some(cosmos_pre),
        back: Some(77),
        fwd: 12,
        group: 1,
        word_start: false,
        ..tok(
            "azure-cosmosdb-key",
            &["acdb"],
            r"(?:^|[^A-Za-z0-9+/_\-])([A-Za-z0-9+/]{76}ACDb[A-Za-z0-9+/]{5}[AQgw]==)(?:[^A-Za-z0-9+/=_\-]|$)",
        )
    },
    // Shared access (SAS policy) keys of Service Bus, Event Hubs, Relay,
    // IoT Hub and Event Grid with their signature: 33, the signature, 6, `=`.
    Def {
        pre: Some(messaging_pre),
        back: Some(34),
        fwd: 12,
        group: 1,
        word_start: false,
        ..tok(
            "azure-shared-access-key",
            &["+asb", "+aeh", "+arm", "aiot", "azeg"],
            r"(?:^|[^A-Za-z0-9+/_\-])([A-Za-z0-9+/]{33}(?:\+ASb|\+AEh|\+ARm|AIoT|AZEG)[A-P][A-Za-z0-9+/]{5}=)(?:[^A-Za-z0-9+/=_\-]|$)",
        )
    },
    // Older 44-character shared access keys after `SharedAccessKey=` (the
    // secret-named key rule's `accesskey` keyword: no keyword of its own).
    Def {
        word_start: false,
        pre: Some(shared_pre),
        fwd: 60,
        group: 1,
        entropy: Some(3.5),
        ..tok(
            "azure-shared-access-key",
            &["accesskey"],
            r"(?i:AccessKey)=([A-Za-z0-9+/]{43}=)(?:[^A-Za-z0-9+/=]|$)",
        )
    },
    // The signature of a SAS token (a URL's or a connection string's
    // `sig=`): an HMAC-SHA256 in base64, URL-encoded or not.
    Def {
        fwd: 140,
        group: 1,
        entropy: Some(3.5),
        ..tok(
            "azure-sas-signature",
            &["sig="],
            r"(?i:sig)=((?:[A-Za-z0-9+/]|%2[BbFf]){43}(?:=|%3[Dd]))(?:[^A-Za-z0-9%+/=]|$)",
        )
    },
    // The identifiable keys of other services: Batch (`+ABa`), Machine
    // Learning (`+AMC`), API Management (`APIM`), Cache for Redis (`AzCa`),
    // Functions (`AzFu`), AI Search (`AzSe`), Container Registry (`+ACR`).
    Def {
        pre: Some(service_pre),
        back: Some(77),
        fwd: 12,
        group: 1,
        word_start: false,
        ..tok(
            "azure-service-key",
            &["+aba", "+amc", "apim", "azca", "azfu", "azse", "+acr"],
            concat!(
                r"(?:^|[^A-Za-z0-9+/_\-])(",
                r"[A-Za-z0-9+/]{76}(?:\+ABa|\+AMC|APIM)[A-Za-z0-9+/]{5}[AQgw]==",
                r"|[A-Za-z0-9+/]{33}AzCa[A-P][A-Za-z0-9+/]{5}=",
                r"|[A-Za-z0-9_\-]{44}AzFu[A-Za-z0-9_\-]{5}[AQgw]==",
                r"|[A-Za-z0-9]{42}AzSe[A-D][A-Za-z0-9]{5}",
                r"|[A-Za-z0-9+/]{42}\+ACR[A-D][A-Za-z0-9+/]{5}",
                r")(?:[^A-Za-z0-9+/=_\-]|$)"
            ),
        )
    },
    // Azure DevOps personal access tokens (84 characters since 2024):
    // 52 random, `JQQJ9`, ..., `AZDO` and a 4-character checksum.
    Def {
        pre: Some(annotated_pre),
        back: Some(53),
        fwd: 40,
        group: 1,
        word_start: false,
        exact_case: true,
        ..tok(
            "azure-devops-pat",
            &["JQQJ"],
            r"(?:^|[^A-Za-z0-9])([A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}AZDO[A-Za-z0-9]{4}(?:[A-Za-z0-9]{2}==)?)(?:[^A-Za-z0-9+/=]|$)",
        )
    },
    // Other 84-character "common annotated" keys (OpenAI on Azure, AI
    // services, App Configuration, Maps, ...).
    Def {
        pre: Some(annotated_pre),
        back: Some(53),
        fwd: 40,
        group: 1,
        word_start: false,
        exact_case: true,
        ..tok(
            "azure-annotated-key",
            &["JQQJ"],
            r"(?:^|[^A-Za-z0-9])([A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}(?:[A-Za-z0-9]{2}==)?)(?:[^A-Za-z0-9+/=]|$)",
        )
    },
    // Older 52-character DevOps PATs (base32) after a DevOps setting name.
    Def {
        fwd: 120,
        group: 1,
        entropy: Some(3.5),
        ..tok(
            "azure-devops-pat",
            &["azure_devops", "azure-devops", "azuredevops", "ado_pat"],
            concat!(
                r"(?i:azure[_\-]?devops|ado)[\w.\-]{0,32}",
                assign!(),
                r"([a-z2-7]{52})(?:[^A-Za-z0-9]|$)"
            ),
        )
    },
];

/// Base64 bytes.
fn b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn client_secret_pre(b: &[u8], hs: usize) -> bool {
    b.get(hs + 1..hs + 3) == Some(b"Q~")
        && run_before(b, hs, 3, |c| {
            c.is_ascii_alphanumeric() || matches!(c, b'~' | b'.' | b'_' | b'-')
        })
}

fn storage_pre(b: &[u8], hs: usize) -> bool {
    b[hs..].starts_with(b"+ASt") && run_before(b, hs, 76, b64)
}

fn cosmos_pre(b: &[u8], hs: usize) -> bool {
    b[hs..].starts_with(b"ACDb") && run_before(b, hs, 76, b64)
}

fn messaging_pre(b: &[u8], hs: usize) -> bool {
    let sig = &b[hs..(hs + 4).min(b.len())];
    [&b"+ASb"[..], b"+AEh", b"+ARm", b"AIoT", b"AZEG"].contains(&sig) && run_before(b, hs, 33, b64)
}

fn service_pre(b: &[u8], hs: usize) -> bool {
    match &b[hs..(hs + 4).min(b.len())] {
        b"+ABa" | b"+AMC" | b"APIM" => run_before(b, hs, 76, b64),
        b"AzCa" => run_before(b, hs, 33, b64),
        b"AzFu" => run_before(b, hs, 44, |c| {
            c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
        }),
        b"AzSe" => run_before(b, hs, 42, alnum),
        b"+ACR" => run_before(b, hs, 42, b64),
        _ => false,
    }
}

fn shared_pre(b: &[u8], hs: usize) -> bool {
    hs >= 6 && b[hs - 6..hs].eq_ignore_ascii_case(b"shared")
}

fn annotated_pre(b: &[u8], hs: usize) -> bool {
    b[hs..].starts_with(b"JQQJ9") && run_before(b, hs, 52, alnum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::builtin::near::testing::assert_dense_lines_linear;
    use crate::detect::testing::spans;

    /// Fake keys in each format (random, generated for these tests).
    const CLIENT_SECRET: &str = "lkf8Q~pSmv.fZ7~Bfk~D_OY_iL4DpK2.bn.kolkB";
    const STORAGE_SIG: &str =
        "Lt1VAiikNEW/J5b5HKYKGIk5vfqUHr1TIpn3V6uTF/kZWw3jDMjA0RwI2ABkEP2GI+V6zRshpXfr+AStB7t+aA==";
    const STORAGE_OLD: &str =
        "VgMIqtEQvD5bvEmUGFvSRai/sWFsRTLFCGBR+HjLM+2LdKg/db7TQ1UW5EArNzfo3vsoWhM4M3fpmXzJm2BmfA==";
    const COSMOS_SIG: &str =
        "ULHda+ikNJUQlKgjkPhqpNZn6WQjdFdJ3aaE7sDMzm7wAxfe2GZpBal6FUMARloLA6NKLGTiY2W4ACDbv6wbSA==";
    const SB_SIG: &str = "OsOs1Z2UwbN+i7dDOe3FALax9UfsWvQfx+ASbNWu++M=";
    const SB_OLD: &str = "dZhEGALbTxc713v74BatNjKQOlY3jGXYKydGrTFWTUQ=";
    const SAS_SIG: &str = "iYfY6IiyxjlHKh%2BzMo3Rcbtw%2Bs5Cbdc%2BHkfQJCya1zw%3D";
    const FUNC_KEY: &str = "2jenn33Jxmyq-wuTDyiq54_UMZJlAkzC3lBT74LPALbtAzFuJ7TPDw==";
    const ADO_PAT: &str =
        "3BOzJDKm1Kphnyr0zbDsPRjHXSFqDBlc5ohtr61lcNjW6WNwr6Q6JQQJ99gIEEqLlpmlFIuPAAAAAZDODxHw";
    const ADO_OLD: &str = "y7fmkt5ktt4evnc23gsab3hhupt3lzpaapkweigekxdbpcgycho2";
    const ANNOTATED: &str =
        "T0NmG5fu8sfllrilUXTBo7pdC9Ep9RXvgJfLaGnvuxhA5zSz3JOrJQQJ99dHq8r7p2C66ErqAAABACOGm2bW";

    #[test]
    fn azure_keys_are_found_with_their_exact_span_in_each_context() {
        let cases: Vec<(String, &str, &str)> = vec![
            (
                format!("2025-03-01 INFO msal: client_credential={CLIENT_SECRET} tenant=t1"),
                "azure-ad-client-secret",
                CLIENT_SECRET,
            ),
            (
                format!(r#"{{"clientSecret": "{CLIENT_SECRET}"}}"#),
                "azure-ad-client-secret",
                CLIENT_SECRET,
            ),
            (
                format!("echo {CLIENT_SECRET} | az login --service-principal"),
                "azure-ad-client-secret",
                CLIENT_SECRET,
            ),
            (
                format!(
                    "AzureWebJobsStorage=DefaultEndpointsProtocol=https;AccountName=st1;AccountKey={STORAGE_SIG};EndpointSuffix=core.windows.net"
                ),
                "azure-storage-account-key",
                STORAGE_SIG,
            ),
            (
                format!("blob key {STORAGE_SIG} rotated"),
                "azure-storage-account-key",
                STORAGE_SIG,
            ),
            (
                format!("AZURE_STORAGE_KEY={STORAGE_OLD}"),
                "azure-storage-account-key",
                STORAGE_OLD,
            ),
            (
                format!("az storage blob list --account-name st1 --account-key \"{STORAGE_OLD}\""),
                "azure-storage-account-key",
                STORAGE_OLD,
            ),
            (
                format!("storageKey: {STORAGE_OLD}"),
                "azure-storage-account-key",
                STORAGE_OLD,
            ),
            (
                format!(r#"{{"primaryMasterKey": "{COSMOS_SIG}"}}"#),
                "azure-cosmosdb-key",
                COSMOS_SIG,
            ),
            (
                format!(
                    "AccountEndpoint=https://db1.documents.azure.com:443/;AccountKey={STORAGE_OLD};"
                ),
                "azure-storage-account-key",
                STORAGE_OLD,
            ),
            (
                format!(
                    "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={SB_SIG}"
                ),
                "azure-shared-access-key",
                SB_SIG,
            ),
            (
                format!(
                    "Endpoint=sb://eh1.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={SB_OLD};EntityPath=orders"
                ),
                "azure-shared-access-key",
                SB_OLD,
            ),
            (
                format!(
                    "GET https://st1.blob.core.windows.net/c/a.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2025-01-01T00:00:00Z&sig={SAS_SIG} HTTP/1.1"
                ),
                "azure-sas-signature",
                SAS_SIG,
            ),
            (
                format!("x-functions-key: {FUNC_KEY}"),
                "azure-service-key",
                FUNC_KEY,
            ),
            (
                format!(
                    "git clone https://dev.azure.com/org -c http.extraheader=\"pat {ADO_PAT}\""
                ),
                "azure-devops-pat",
                ADO_PAT,
            ),
            (
                format!("AZURE_DEVOPS_EXT_PAT={ADO_OLD}"),
                "azure-devops-pat",
                ADO_OLD,
            ),
            (
                format!(r#"{{"ado_pat": "{ADO_OLD}"}}"#),
                "azure-devops-pat",
                ADO_OLD,
            ),
            (
                format!("api-key: {ANNOTATED}"),
                "azure-annotated-key",
                ANNOTATED,
            ),
        ];
        for (line, rule, want) in cases {
            let found = spans(&line);
            assert!(
                found.iter().any(|(r, s)| r == rule && s == want),
                "{rule} in {line:?}: {found:?}"
            );
        }
    }

    #[test]
    fn azure_look_alikes_are_not_flagged() {
        let lines = [
            // Placeholder, truncated, wrong version digit.
            "AZURE_CLIENT_SECRET=xxx8Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_string(),
            format!("secret {}", &CLIENT_SECRET[..30]),
            CLIENT_SECRET.replace("8Q~", "5Q~"),
            // A storage key one character short, and without the signature.
            format!("blob {}", &STORAGE_SIG[1..]),
            STORAGE_SIG.replace("+ASt", "+BSt"),
            // AccountKey placeholders and a short value.
            "DefaultEndpointsProtocol=https;AccountName=st1;AccountKey=<your-account-key>;".to_string(),
            "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==".replace("Eby8", "xxxx"),
            "storage_key: abc123==".to_string(),
            // SharedAccessKeyName is a name, not a key.
            "SharedAccessKeyName=RootManageSharedAccessKey".to_string(),
            // A sig= that is no HMAC (too short, placeholder).
            "https://x.blob.core.windows.net/c?sv=2022&sig=abc%3D".to_string(),
            "sig=<signature>".to_string(),
            // An annotated key with a broken signature.
            ADO_PAT.replace("JQQJ99", "JQQJ77"),
            "AZURE_DEVOPS_EXT_PAT=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string(),
        ];
        for line in lines {
            assert_eq!(spans(&line), Vec::<(String, String)>::new(), "{line:?}");
        }
    }

    #[test]
    fn breadth_azure_keyword_lines_cost_linear_work() {
        assert_dense_lines_linear(DEFS, &[]);
    }
}
