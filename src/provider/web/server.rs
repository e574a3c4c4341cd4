//! The HTTP/1 server behind the approval page (hyper 1), one listener per [`Site`].
//!
//! Routes, below the path of `public_url` if it has one:
//! - `GET /r/{page token}/`: the request's page; `POST` there answers it.
//! - `GET /s/{session token}/`: every request of this process.
//! - anything else: 404, with no hint of what exists.
//!
//! Invariants:
//! - Every response carries a strict Content-Security-Policy (nothing loads; inline CSS and
//!   script only with this response's nonce), `no-store`, `Referrer-Policy: same-origin`, `nosniff` and framing
//!   denied.
//! - The peer check runs before anything else; a POST is checked for cross-site origin before
//!   its body is read, and its body is bounded in size and time.
//! - The response to an accepted answer closes its connection, and the ticket is told when that
//!   connection is done, so `send` does not exit before the human saw "Approved".

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::oneshot;

use super::pages::{State, Submission};
use super::{Site, form, guard, page};
use crate::answer::Person;
use crate::provider::Reply;
use crate::request::Verdict;
use crate::token::{constant_time_eq, random_token};

/// Largest answer body read: the feedback box allows 8000 characters, and one CJK character
/// is 9 bytes once percent-encoded.
const BODY_LIMIT: usize = 256 * 1024;
const BODY_PATIENCE: Duration = Duration::from_secs(30);
const HEADER_PATIENCE: Duration = Duration::from_secs(30);

type Html = Response<Full<Bytes>>;

/// Bind `listen` and serve `site` from a background task; returns the bound address.
/// Needs a Tokio runtime.
pub fn start(site: Arc<Site>, listen: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    tokio::spawn(accept(listener, site));
    Ok(addr)
}

async fn accept(listener: tokio::net::TcpListener, site: Arc<Site>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(serve(stream, peer, site.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: pause rather than spin.
                crate::log::warn(&format!("web: accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// One connection. Answer responses park a sender here; dropping them at the end of the
/// connection tells the ticket the response went out.
struct Conn {
    peer: SocketAddr,
    sent: Mutex<Vec<oneshot::Sender<()>>>,
}

async fn serve(stream: tokio::net::TcpStream, peer: SocketAddr, site: Arc<Site>) {
    let conn = Arc::new(Conn {
        peer,
        sent: Mutex::default(),
    });
    let service = service_fn(move |req| {
        let site = site.clone();
        let conn = conn.clone();
        async move { Ok::<_, Infallible>(handle(&site, &conn, req).await) }
    });
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_PATIENCE)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    // The service (and with it `conn` and its senders) is dropped here.
}

enum Route<'a> {
    Page(&'a str),
    Session(&'a str),
    Unknown,
}

fn route<'a>(base_path: &str, path: &'a str) -> Route<'a> {
    let path = path.strip_prefix(base_path).unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(""), Some("r"), Some(token), None) => Route::Page(token),
        (Some(""), Some("s"), Some(token), None) => Route::Session(token),
        _ => Route::Unknown,
    }
}

async fn handle(site: &Site, conn: &Conn, req: HttpRequest<Incoming>) -> Html {
    let nonce = random_token(16);
    let chrome = site.chrome(&nonce);
    let text = site.text;
    let refuse = |status, message| respond(status, &page::message_page(&chrome, message), &nonce);
    if !guard::peer_allowed(conn.peer.ip(), site.listen) {
        return refuse(StatusCode::FORBIDDEN, text.web_peer_refused);
    }
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    match route(&site.base_path, req.uri().path()) {
        Route::Page(token) if read => {
            let pages = site.pages.lock().expect("pages");
            match pages.find(token) {
                Some(p) => respond(
                    StatusCode::OK,
                    &page::request_page(&chrome, p, None),
                    &nonce,
                ),
                None => refuse(StatusCode::NOT_FOUND, text.web_not_found),
            }
        }
        Route::Page(_) if req.method() == Method::POST => answer(site, conn, req, &nonce).await,
        Route::Session(token) if read => {
            if constant_time_eq(token.as_bytes(), site.session.as_bytes()) {
                let pages = site.pages.lock().expect("pages");
                let html = page::index_page(&chrome, pages.newest_first());
                respond(StatusCode::OK, &html, &nonce)
            } else {
                refuse(StatusCode::NOT_FOUND, text.web_not_found)
            }
        }
        Route::Page(_) | Route::Session(_) => {
            let mut response = refuse(StatusCode::METHOD_NOT_ALLOWED, text.web_bad_form);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
            response
        }
        Route::Unknown => refuse(StatusCode::NOT_FOUND, text.web_not_found),
    }
}

/// A POST to a page: check where it comes from, read the form, and take the page's answer.
async fn answer(site: &Site, conn: &Conn, req: HttpRequest<Incoming>, nonce: &str) -> Html {
    let chrome = site.chrome(nonce);
    let text = site.text;
    let refuse = |status, message| respond(status, &page::message_page(&chrome, message), nonce);
    let headers = req.headers();
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let same_site = guard::same_site_post(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        header(header::ORIGIN),
        header(header::HOST),
        site.public_origin.as_deref(),
    );
    if !same_site {
        return refuse(StatusCode::FORBIDDEN, text.web_cross_site);
    }
    let is_form = header(header::CONTENT_TYPE).is_some_and(|t| {
        t.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !is_form {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, text.web_bad_form);
    }
    let Route::Page(token) = route(&site.base_path, req.uri().path()) else {
        unreachable!("answer is only called for page routes");
    };
    let token = token.to_owned();
    let body = Limited::new(req.into_body(), BODY_LIMIT).collect();
    let body = match tokio::time::timeout(BODY_PATIENCE, body).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, text.web_bad_form),
        Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, text.web_bad_form),
    };

    let mut pages = site.pages.lock().expect("pages");
    let Some(page) = pages.find_mut(&token) else {
        return refuse(StatusCode::NOT_FOUND, text.web_not_found);
    };
    let Some(form) = form::parse(&body) else {
        return refuse(StatusCode::BAD_REQUEST, text.web_bad_form);
    };
    if !constant_time_eq(form.form.as_bytes(), page.form_token.as_bytes()) {
        return refuse(StatusCode::FORBIDDEN, text.web_cross_site);
    }
    if !page.is_live() {
        let html = page::request_page(&chrome, page, Some(text.web_not_open));
        return respond(StatusCode::CONFLICT, &html, nonce);
    }
    let Some(choice) = page.request.choice(&form.choice).cloned() else {
        return refuse(StatusCode::BAD_REQUEST, text.web_bad_form);
    };
    let by = Person {
        name: format!("web ({})", conn.peer.ip().to_canonical()),
        id: "0".into(),
    };
    let lines = page::decided_lines(text, &choice, &by.name, form.feedback.as_deref());
    let answered = State::Answered {
        lines,
        approved: choice.verdict == Verdict::Approve,
    };
    let State::Live(ticket) = std::mem::replace(&mut page.state, answered) else {
        unreachable!("checked live above, under the same lock");
    };
    let (sent_tx, sent_rx) = oneshot::channel();
    let submission = Submission {
        reply: Reply {
            choice: choice.id,
            verdict: choice.verdict,
            by,
            feedback: form.feedback,
        },
        flushed: sent_rx,
    };
    if ticket.send(submission).is_err() {
        // The ticket ended between our check and now: nobody is waiting for this answer.
        page.state = State::Closed {
            line: text.expired.to_owned(),
        };
        let html = page::request_page(&chrome, page, Some(text.web_not_open));
        return respond(StatusCode::CONFLICT, &html, nonce);
    }
    conn.sent.lock().expect("conn").push(sent_tx);
    let html = page::request_page(&chrome, page, None);
    drop(pages);
    let mut response = respond(StatusCode::OK, &html, nonce);
    // Close the connection after this response, so its end means "the human has the page".
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn respond(status: StatusCode, html: &str, nonce: &str) -> Html {
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         img-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    let mut response = Response::new(Full::new(Bytes::from(html.to_owned())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        // Not `no-referrer`: under it browsers send `Origin: null` with the page's own POST.
        // `same-origin` still keeps the secret URL out of any request to another origin.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("the nonce is URL-safe base64"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_exact_shapes_only() {
        assert!(matches!(route("", "/r/abc/"), Route::Page("abc")));
        assert!(matches!(route("", "/r/abc"), Route::Page("abc")));
        assert!(matches!(route("", "/s/xyz/"), Route::Session("xyz")));
        assert!(matches!(route("/ok", "/ok/r/abc/"), Route::Page("abc")));
        // A tunnel that strips the prefix still reaches the page.
        assert!(matches!(route("/ok", "/r/abc/"), Route::Page("abc")));
        for path in ["/", "/r/", "/r/abc/x", "/x/abc/", "//r/abc", "/r/abc//"] {
            assert!(matches!(route("", path), Route::Unknown), "{path}");
        }
    }
}
