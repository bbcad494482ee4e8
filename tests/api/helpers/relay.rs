//! An HTTP server the attacker runs: a relay in front of the real service that may rewrite what
//! passes, or an impostor that answers from a forged log. Plain HTTP/1.1 on a free port, one
//! thread per connection, every answer closing its connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// A request as the relay read it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

/// What the relay answers.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A running relay.
pub struct Relay {
    pub port: u16,
}

impl Relay {
    /// Its address, as a teller would be given it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Starts a relay answering every request with `answer` (for as long as the test runs).
pub fn start_relay(answer: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = Arc::clone(&answer);
            std::thread::spawn(move || serve_one(stream, &*answer));
        }
    });
    Relay { port }
}

fn serve_one(stream: TcpStream, answer: &dyn Fn(&Request) -> Answer) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut words = first.split_whitespace();
    let (method, path) = (
        words.next().unwrap_or("").to_owned(),
        words.next().unwrap_or("").to_owned(),
    );
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "authorization" => authorization = Some(value),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let a = answer(&Request {
        method,
        path,
        authorization,
        body,
    });
    let mut out = stream;
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        a.status,
        a.content_type,
        a.body.len()
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&a.body);
}

/// An impostor server answering a teller from a forged log: `checkpoint`, the verifier `key`
/// and the entries `lines` (the whole log in one page); anything else is 404.
pub fn start_impostor(checkpoint: String, key: String, lines: Vec<String>) -> Relay {
    start_relay(move |req| {
        let body = if req.path.ends_with("/checkpoint") {
            checkpoint.clone()
        } else if req.path.ends_with("/key") {
            key.clone()
        } else if req.path.contains("/entries") {
            lines.iter().map(|l| format!("{l}\n")).collect()
        } else {
            return Answer {
                status: 404,
                content_type: "application/json".into(),
                body: b"{}".to_vec(),
            };
        };
        Answer {
            status: 200,
            content_type: "text/plain".into(),
            body: body.into_bytes(),
        }
    })
}

/// Passes `request` on to `upstream` (`http://host:port`) and returns its answer as it is.
pub fn forward(upstream: &str, request: &Request) -> Answer {
    let url = format!("{upstream}{}", request.path);
    let mut call = ureq::request(&request.method, &url);
    if let Some(auth) = &request.authorization {
        call = call.set("Authorization", auth);
    }
    let result = if request.method == "GET" {
        call.call()
    } else {
        call.set("Content-Type", "application/json")
            .send_bytes(&request.body)
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("the relay cannot reach the service: {e}"),
    };
    let status = response.status();
    let content_type = response.content_type().to_owned();
    let mut body = Vec::new();
    response.into_reader().read_to_end(&mut body).unwrap();
    Answer {
        status,
        content_type,
        body,
    }
}

/// A request a [`start_proxy`] passed on: method, path and body, as the browser sent them.
#[derive(Clone, Debug)]
pub struct Passed {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

/// A proxy the operator runs in front of the service for a browser: every request is passed on
/// with its headers (cookies included) and recorded; every answer comes back with its headers
/// (redirects not followed), its body first given to `rewrite(path, body)`.
pub fn start_proxy(
    upstream: String,
    rewrite: impl Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync + 'static,
) -> (Relay, Arc<std::sync::Mutex<Vec<Passed>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let rewrite = Arc::new(rewrite);
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let recorded = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (seen, rewrite, agent) =
                (Arc::clone(&recorded), Arc::clone(&rewrite), agent.clone());
            let upstream = upstream.clone();
            std::thread::spawn(move || pass_one(stream, &upstream, &agent, &seen, &*rewrite));
        }
    });
    (Relay { port }, seen)
}

/// Headers a proxy does not pass on as they are.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "host"
            | "connection"
            | "content-length"
            | "accept-encoding"
            | "transfer-encoding"
            | "keep-alive"
    )
}

fn pass_one(
    stream: TcpStream,
    upstream: &str,
    agent: &ureq::Agent,
    seen: &std::sync::Mutex<Vec<Passed>>,
    rewrite: &dyn Fn(&str, Vec<u8>) -> Vec<u8>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let mut words = first.split_whitespace();
    let (method, path) = (
        words.next().unwrap_or("").to_owned(),
        words.next().unwrap_or("").to_owned(),
    );
    let (mut headers, mut length) = (Vec::new(), 0usize);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    seen.lock().unwrap().push(Passed {
        method: method.clone(),
        path: path.clone(),
        body: body.clone(),
    });
    let mut call = agent.request(&method, &format!("{upstream}{path}"));
    for (name, value) in headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
        call = call.set(name, value);
    }
    let result = if body.is_empty() && method == "GET" {
        call.call()
    } else {
        call.send_bytes(&body)
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(_) => return,
    };
    let status = response.status();
    let mut head = format!("HTTP/1.1 {status} X\r\n");
    for name in response.headers_names() {
        if hop_by_hop(&name) {
            continue;
        }
        for value in response.all(&name) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    let mut answer = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut answer)
        .unwrap_or_default();
    let answer = rewrite(&path, answer);
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    ));
    let mut out = stream;
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&answer);
}
