//! `[me] dht_bootstrap = ["host:port", ...]`: the Mainline DHT nodes to join through.
//!
//! Checked for form only, as `[me] stun` is: names are resolved when the DHT starts, so
//! reading the file never waits on the resolver. The DHT client speaks IPv4 only, so an IPv6
//! node is refused here rather than silently never contacted.

use toml::Spanned;
use toml::de::DeValue;

use super::parse::Doc;
use super::{ContactsError, Problem};

const WHAT: &str = "[me] dht_bootstrap";
const EXAMPLE: &str = "dht_bootstrap = [\"dht.example.org:6881\"]";

impl Doc<'_> {
    /// The node list, each entry a `host:port` in double quotes; at least one, since a DHT
    /// with nobody to join finds nothing (leave the line out for the public nodes).
    pub(super) fn dht_bootstrap(
        &self,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Vec<String>, ContactsError> {
        let entries = match value.get_ref() {
            DeValue::Array(entries) if !entries.is_empty() => entries,
            _ => {
                return Err(self.wrong_type(
                    value,
                    WHAT,
                    "a list of one or more host:port in double quotes (leave the line out to use the public bootstrap nodes)",
                    EXAMPLE.to_owned(),
                ));
            }
        };
        self.server_list(
            entries,
            WHAT,
            EXAMPLE,
            "dht.example.org",
            |host| format!("dht_bootstrap = [\"{host}:6881\"]"),
            |raw| {
                raw.starts_with('[').then(|| Problem::BadAddress {
                    what: WHAT.to_owned(),
                    addr: raw.to_owned(),
                    reason: "the DHT is reached over IPv4 only".to_owned(),
                    example: EXAMPLE.to_owned(),
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::ContactBook;

    fn parse(me: &str) -> Result<ContactBook, String> {
        ContactBook::parse(&format!("[me]\nname = \"a\"\n{me}\n"), Path::new("c.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn off_by_default_with_the_public_nodes() {
        let book = parse("").expect("valid");
        assert!(!book.me.dht);
        assert_eq!(book.me.dht_bootstrap, None);
    }

    #[test]
    fn on_with_own_nodes() {
        let book = parse("dht = true\ndht_bootstrap = [\"127.0.0.1:6881\", \" dht.x.org:6881 \"]")
            .expect("valid");
        assert!(book.me.dht);
        assert_eq!(
            book.me.dht_bootstrap,
            Some(vec![
                "127.0.0.1:6881".to_owned(),
                "dht.x.org:6881".to_owned()
            ])
        );
    }

    #[test]
    fn mistakes_name_the_line_and_what_to_write() {
        for (line, wanted) in [
            ("dht = \"yes\"", "[me] dht: expected true or false"),
            ("dht = 1", "write it as dht = true"),
            (
                "dht_bootstrap = \"x.org:6881\"",
                "[me] dht_bootstrap: expected a list of one or more host:port",
            ),
            ("dht_bootstrap = []", "leave the line out"),
            (
                "dht_bootstrap = [6881]",
                "expected a host:port in double quotes",
            ),
            (
                "dht_bootstrap = [\"x.org\"]",
                "has no port; write it as dht_bootstrap = [\"x.org:6881\"]",
            ),
            (
                "dht_bootstrap = [\"x.org:0\"]",
                "port is a number from 1 to 65535",
            ),
            ("dht_bootstrap = [\"[2001:db8::1]:6881\"]", "IPv4 only"),
            ("dht_bootstrap = [\"2001:db8::1:6881\"]", "needs brackets"),
        ] {
            let err = parse(line).expect_err(line);
            assert!(err.contains("c.toml:3:"), "{err}");
            assert!(err.contains(wanted), "{line}: {err}");
        }
    }
}
