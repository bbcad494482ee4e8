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
