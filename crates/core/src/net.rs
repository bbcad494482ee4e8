//! Addresses: whether a host is this machine (where plain `http://` or `smtp://` is allowed,
//! since nothing crosses a network).

/// Whether `host[:port]` (an IPv6 address in brackets) names this machine: `localhost`, a
/// 127.x address or `[::1]`.
pub fn is_loopback_host(host_port: &str) -> bool {
    let host = match host_port.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        for host in [
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1",
            "127.8.9.1:25",
            "[::1]:587",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "vote.example.org",
            "10.0.0.1:25",
            "[2001:db8::1]:25",
            "localhost.example.org",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
