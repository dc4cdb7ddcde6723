//! `[me] stun = ["host:port", ...]`: the STUN servers that tell this user's public address.
//!
//! Checked for form only: the names are resolved when qqchat starts asking, so a file read
//! offline, or by `qqchat add`, never waits on the resolver or reaches a public server.

use toml::Spanned;
use toml::de::DeValue;

use super::ContactsError;
use super::parse::Doc;

const WHAT: &str = "[me] stun";
const EXAMPLE: &str = "stun = [\"stun.example.org:3478\"]";

impl Doc<'_> {
    /// The server list, each entry a `host:port` in double quotes; `[]` turns STUN off.
    pub(super) fn stun_servers(
        &self,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Vec<String>, ContactsError> {
        let DeValue::Array(entries) = value.get_ref() else {
            return Err(self.wrong_type(
                value,
                WHAT,
                "a list of host:port in double quotes, or [] for none",
                EXAMPLE.to_owned(),
            ));
        };
        self.server_list(
            entries,
            WHAT,
            EXAMPLE,
            "stun.example.org",
            |host| format!("stun = [\"{host}:3478\"]"),
            |_| None,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{ContactBook, DEFAULT_STUN};

    fn parse(me: &str) -> Result<ContactBook, String> {
        ContactBook::parse(&format!("[me]\nname = \"a\"\n{me}\n"), Path::new("c.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_means_the_defaults_and_empty_means_off() {
        let book = parse("").expect("valid");
        assert_eq!(book.me.stun, DEFAULT_STUN);
        assert!(parse("stun = []").expect("valid").me.stun.is_empty());
        let book =
            parse("stun = [\"203.0.113.5:3478\", \"[2001:db8::1]:3478\", \"stun.x.org:19302\"]")
                .expect("valid");
        assert_eq!(book.me.stun.len(), 3);
    }

    #[test]
    fn mistakes_name_the_line_and_what_to_write() {
        for (line, wanted) in [
            ("stun = \"stun.x.org:3478\"", "expected a list of host:port"),
            ("stun = [3478]", "expected a host:port in double quotes"),
            (
                "stun = [\"stun.x.org\"]",
                "has no port; write it as stun = [\"stun.x.org:3478\"]",
            ),
            (
                "stun = [\"stun.x.org:0\"]",
                "port is a number from 1 to 65535",
            ),
            ("stun = [\":3478\"]", "no host before the port"),
            (
                "stun = [\"2001:db8::1:3478\"]",
                "IPv6 address needs brackets",
            ),
        ] {
            let err = parse(line).expect_err(line);
            assert!(err.contains("c.toml:3:"), "{err}");
            assert!(err.contains("[me] stun"), "{err}");
            assert!(err.contains(wanted), "{line}: {err}");
        }
    }
}
