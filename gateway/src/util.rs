//! Small helpers shared by the modules: ids (uuid and hex crates), times, ports.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// A random UUID v4 string, the shape AWS uses for request ids.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `n` random bytes, hex-encoded (lower case).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill(&mut bytes[..]);
    hex::encode(bytes)
}

/// Milliseconds since the Unix epoch.
pub fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// A loopback port that was free a moment ago. There is a small window in which another
/// process could take it; only used where the port must be passed to a child (DynamoDB Local).
pub fn free_loopback_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_the_v4_shape() {
        let id = uuid_v4();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert_ne!(uuid_v4(), id);
    }

    #[test]
    fn random_hex_has_two_chars_per_byte() {
        let s = random_hex(48);
        assert_eq!(s.len(), 96);
        assert!(s.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
