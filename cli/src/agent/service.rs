//! One request, answered as the AWS agent answers it, with the same checks
//! in the same order: too many connections 429, an `X-Forwarded-For`
//! header 400, a missing or wrong token 403 (not for `/ping`), a method
//! other than GET 405, an unknown path 404, bad parameters 400. A secret
//! is read through the chain; a cached one is answered with its
//! pre-serialised body ([`Bodies`]), without allocating or logging.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use http::{HeaderName, Method, Request, Response, StatusCode};
use parking_lot::Mutex;
use secret_chain::{Error, SecretsManager, Snapshot, Version};

use super::bodies::Bodies;
use super::body::Body;
use super::query::{self, Query};
use super::render;
use super::status;
use super::token::Token;

/// The agent's own counters, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    connections: AtomicUsize,
}

impl Counters {
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

/// An open connection, counted until dropped.
#[derive(Debug)]
pub(crate) struct Connection<'a>(&'a Counters);

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Everything a request needs.
#[derive(Debug)]
pub(crate) struct Agent {
    pub(crate) manager: SecretsManager,
    pub(crate) token: Token,
    pub(crate) headers: Vec<HeaderName>,
    pub(crate) path_prefix: String,
    pub(crate) max_conn: usize,
    pub(crate) bodies: Bodies,
    pub(crate) counters: Counters,
    /// The last failure per key, for the status listing (bounded).
    errors: Mutex<HashMap<String, String>>,
    error_capacity: usize,
}

const PING: &str = "/ping";
const GET: &str = "/secretsmanager/get";
const METRICS: &str = "/metrics";
const SECRETS: &str = "/secret-chain/v1/secrets";

/// The cache key of a request: the id, with the version when one is asked.
pub(crate) fn key_of<'a>(id: &'a str, version: &Version) -> Cow<'a, str> {
    match version {
        Version::Current => Cow::Borrowed(id),
        other => Cow::Owned(format!("{id}\0{other}")),
    }
}

impl Agent {
    pub(crate) fn new(
        manager: SecretsManager,
        token: Token,
        headers: Vec<HeaderName>,
        path_prefix: String,
        max_conn: usize,
        cache_size: usize,
    ) -> Agent {
        Agent {
            manager,
            token,
            headers,
            path_prefix,
            max_conn,
            bodies: Bodies::new(cache_size),
            counters: Counters::default(),
            errors: Mutex::new(HashMap::new()),
            error_capacity: cache_size,
        }
    }

    /// Counts a new connection.
    pub(crate) fn connected(&self) -> Connection<'_> {
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        Connection(&self.counters)
    }

    /// Answers one request.
    pub(crate) async fn handle<B>(&self, req: Request<B>) -> Response<Body> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let response = self.answer(&req).await;
        if !response.status().is_success() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        response
    }

    async fn answer<B>(&self, req: &Request<B>) -> Response<Body> {
        let path = req.uri().path();
        // The connection being served counts itself; /ping gets two more.
        let limit = if path == PING {
            self.max_conn + 2
        } else {
            self.max_conn
        };
        if self.counters.connections() > limit {
            return text(StatusCode::TOO_MANY_REQUESTS, "Connection limit exceeded");
        }
        if path != PING {
            let headers = req.headers();
            if headers.contains_key("x-forwarded-for") {
                tracing::warn!("refused a request with an X-Forwarded-For header");
                return text(StatusCode::BAD_REQUEST, "Forwarded");
            }
            let token_ok = self.headers.iter().any(|h| {
                headers
                    .get_all(h)
                    .iter()
                    .any(|v| self.token.matches(v.as_bytes()))
            });
            if !token_ok {
                tracing::warn!("refused a request with a missing or wrong SSRF token");
                return text(StatusCode::FORBIDDEN, "Bad Token");
            }
        }
        if req.method() != Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "Not allowed");
        }
        let q = req.uri().query();
        match path {
            PING => text(StatusCode::OK, "healthy"),
            GET => match query::from_query(q) {
                Ok(query) => self.secret(query).await,
                Err(why) => refusal(why),
            },
            METRICS => {
                let body = status::metrics(&self.manager.stats(), &self.counters);
                let mut r = Response::new(Body::owned(body.into_bytes()));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                r
            }
            SECRETS => {
                let errors = self.errors.lock().clone();
                let body =
                    status::secrets(&self.manager.cached_secrets(), &self.bodies.hits(), &errors);
                let mut r = Response::new(Body::owned(body));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                r
            }
            p if p.starts_with(self.path_prefix.as_str()) => {
                match query::from_path(p, &self.path_prefix, q) {
                    Ok(query) => self.secret(query).await,
                    Err(why) => refusal(why),
                }
            }
            _ => text(StatusCode::NOT_FOUND, "Not found"),
        }
    }

    /// A secret's answer: from the cache when it holds it (no backend call,
    /// the body already rendered), through the chain otherwise.
    async fn secret(&self, q: Query<'_>) -> Response<Body> {
        let version = q.version();
        let id: &str = &q.secret_id;
        let snapshot = match (q.refresh_now, self.manager.cached_snapshot(id, &version)) {
            (false, Some(cached)) => cached,
            _ => {
                self.manager
                    .get_secret_snapshot(id, &version, q.refresh_now)
                    .await
            }
        };
        let key = key_of(id, &version);
        match snapshot {
            Ok(s) => {
                if let Some(stage) = q.version_stage.as_deref()
                    && q.version_id.is_some()
                    && !s.metadata().stages().is_empty()
                    && !s.metadata().has_stage(stage)
                {
                    let f = render::error_body(
                        400,
                        "InvalidRequestException",
                        "the version id and the version stage name different versions",
                    );
                    return bytes(f.status, f.body);
                }
                self.found(&key, id, &s)
            }
            Err(e) => {
                self.failed(&key, id, &e);
                let f = render::failure(&e);
                bytes(f.status, f.body)
            }
        }
    }

    #[inline]
    fn found(&self, key: &str, id: &str, s: &Snapshot) -> Response<Body> {
        Response::new(Body::shared(self.bodies.body(key, id, s)))
    }

    fn failed(&self, key: &str, id: &str, e: &Error) {
        tracing::warn!(path = id, error = %e, "a secret request failed");
        let mut errors = self.errors.lock();
        if errors.len() >= self.error_capacity && !errors.contains_key(key) {
            errors.clear();
        }
        errors.insert(key.to_owned(), e.to_string());
    }

    /// Drops the cache and the rendered bodies (SIGHUP).
    pub(crate) fn drop_cache(&self) {
        self.manager.refresh();
        self.bodies.clear();
        self.errors.lock().clear();
    }
}

fn text(status: StatusCode, s: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::text(s));
    *r.status_mut() = status;
    r
}

fn bytes(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::owned(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

fn refusal(why: Cow<'static, str>) -> Response<Body> {
    match why {
        Cow::Borrowed(s) => text(StatusCode::BAD_REQUEST, s),
        Cow::Owned(s) => bytes(400, s.into_bytes()),
    }
}
