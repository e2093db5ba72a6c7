//! A loopback HTTP/1.1 proxy in front of moto that records what each AWS
//! request was (its action, the access key id and session token that
//! signed it, both bodies), or a stub that answers every request itself
//! (an STS that refuses a role). Each request goes upstream on a
//! connection of its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One request that went through, and its answer.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `X-Amz-Target` (`secretsmanager.GetSecretValue`), or the form's
    /// `Action` (`AssumeRole`).
    pub action: String,
    /// The access key id of the `Authorization` header's `Credential=`.
    pub access_key_id: String,
    /// `X-Amz-Security-Token`, empty without one.
    pub session_token: String,
    pub request_body: String,
    pub response_body: String,
}

/// What the proxy does with a request.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Forwards to `upstream` (`http://127.0.0.1:PORT`), replacing the
    /// first `from` of the request body with `to` (same length: the
    /// `Content-Length` is kept).
    Forward {
        upstream: String,
        rewrite: Option<(String, String)>,
    },
    /// Answers itself with this status line tail (`403 Forbidden`) and
    /// XML body.
    Answer { status: String, body: String },
    /// Forwards to `upstream`, but answers the requests of `action`
    /// itself with `status`, the extra header lines `headers` (each ending
    /// in `\r\n`) and `body`: AWS refusing one permission.
    Refuse {
        upstream: String,
        action: String,
        status: String,
        headers: String,
        body: String,
    },
}

pub struct AwsProxy {
    pub endpoint: String,
    /// Held before each request goes upstream or is answered.
    delay_ms: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests received, answered or not (an upstream that is down).
    received: Arc<AtomicUsize>,
}

impl AwsProxy {
    pub async fn start(mode: Mode) -> AwsProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let received: Arc<AtomicUsize> = Arc::default();
        let delay_ms: Arc<AtomicUsize> = Arc::default();
        let (log, count, delay) = (seen.clone(), received.clone(), delay_ms.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (mode, log, count, delay) =
                    (mode.clone(), log.clone(), count.clone(), delay.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &mode, &log, &count, &delay).await;
                });
            }
        });
        AwsProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            delay_ms,
            seen,
            received,
        }
    }

    /// Holds every request from now on for `d` before passing it on (a
    /// slow backend).
    pub fn set_delay(&self, d: std::time::Duration) {
        self.delay_ms
            .store(d.as_millis() as usize, Ordering::SeqCst);
    }

    /// How many requests came in, answered or not.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests of `action`.
    pub fn of(&self, action: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.action == action)
            .collect()
    }

    /// How many requests of `action` came through.
    pub fn count(&self, action: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.action == action)
            .count()
    }
}

/// The text between `<tag>` and `</tag>` in an XML answer.
pub fn xml_field(body: &str, tag: &str) -> Option<String> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].to_owned())
}

type Head = (Vec<u8>, Option<usize>, Vec<(String, String)>);

async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Head>> {
    let mut head = Vec::new();
    let mut headers = Vec::new();
    let mut length = None;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() {
            break;
        }
        if let Some((k, v)) = text.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
            if k == "content-length" {
                length = v.parse().ok();
            }
            headers.push((k, v));
        }
    }
    Ok(Some((head, length, headers)))
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> &'h str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn serve(
    client: TcpStream,
    mode: &Mode,
    log: &Mutex<Vec<Seen>>,
    received: &AtomicUsize,
    delay_ms: &AtomicUsize,
) -> std::io::Result<()> {
    let (cr, mut cw) = client.into_split();
    let mut cr = BufReader::new(cr);
    while let Some((head, length, headers)) = read_head(&mut cr).await? {
        let mut body = vec![0u8; length.unwrap_or(0)];
        cr.read_exact(&mut body).await?;
        received.fetch_add(1, Ordering::SeqCst);
        let delay = delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
        }
        let mut request_body = String::from_utf8_lossy(&body).into_owned();
        let action = match header(&headers, "x-amz-target") {
            "" => request_body
                .split('&')
                .find_map(|kv| kv.strip_prefix("Action="))
                .unwrap_or("")
                .to_owned(),
            target => target.to_owned(),
        };
        let access_key_id = header(&headers, "authorization")
            .split("Credential=")
            .nth(1)
            .and_then(|c| c.split('/').next())
            .unwrap_or("")
            .to_owned();
        let session_token = header(&headers, "x-amz-security-token").to_owned();
        let answer = match mode {
            Mode::Answer { status, body } => Some((status, "Content-Type: text/xml\r\n", body)),
            Mode::Refuse {
                action: refused,
                status,
                headers,
                body,
                ..
            } if *refused == action => Some((status, headers.as_str(), body)),
            _ => None,
        };
        let (reply, response_body, closes) = match (answer, mode) {
            (Some((status, headers, body)), _) => (
                format!(
                    "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes(),
                body.clone(),
                false,
            ),
            (None, Mode::Answer { .. }) => unreachable!("an answering proxy answers everything"),
            (None, Mode::Forward { upstream, .. } | Mode::Refuse { upstream, .. }) => {
                if let Mode::Forward {
                    rewrite: Some((from, to)),
                    ..
                } = mode
                {
                    assert_eq!(from.len(), to.len(), "a rewrite keeps the length");
                    request_body = request_body.replacen(from.as_str(), to, 1);
                }
                let upstream = upstream.trim_start_matches("http://");
                let mut server = BufReader::new(TcpStream::connect(upstream).await?);
                server.get_mut().write_all(&head).await?;
                server.get_mut().write_all(request_body.as_bytes()).await?;
                let Some((head, length, headers)) = read_head(&mut server).await? else {
                    return Ok(());
                };
                let mut body = Vec::new();
                match length {
                    Some(n) => {
                        body.resize(n, 0);
                        server.read_exact(&mut body).await?;
                    }
                    None => {
                        server.read_to_end(&mut body).await?;
                    }
                }
                let closes = length.is_none()
                    || header(&headers, "connection").eq_ignore_ascii_case("close");
                let text = String::from_utf8_lossy(&body).into_owned();
                ([head, body].concat(), text, closes)
            }
        };
        log.lock().unwrap().push(Seen {
            action,
            access_key_id,
            session_token,
            request_body,
            response_body,
        });
        cw.write_all(&reply).await?;
        if closes {
            return Ok(());
        }
    }
    Ok(())
}
