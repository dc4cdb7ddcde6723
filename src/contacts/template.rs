//! The contacts file qqchat writes itself, the first time a contact is added with none there.
//!
//! It is commented like the example, so a person who opens it later sees what each part is
//! for and what else can be written.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

use super::EditError;

/// Writes a new contacts file at `path` (making its directory) for a user called `name`
/// (the login name when `None`) listening on `listen`. An existing file is never replaced.
pub fn create_file(path: &Path, name: Option<&str>, listen: SocketAddr) -> Result<(), EditError> {
    let write = |source| EditError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(write)?;
    }
    let name = name
        .map(|n| format!("name = {}\n", toml::Value::String(n.to_owned())))
        .unwrap_or_else(|| {
            "# name = \"alice\"             # shown to others; your login name when left out\n"
                .to_owned()
        });
    let text = format!(
        "# qqchat contacts: who you are and whom you talk to.\n\
         # qqchat keeps this file up to date when you add, rename or remove a contact in the\n\
         # chat or with `qqchat add`; your own edits and comments are kept. See the README.\n\
         \n\
         [me]\n\
         {name}\
         listen = \"{listen}\"          # where this qqchat receives; give friends this port\n\
         # stun = [\"stun.example.net:3478\"]   # asked for your public address; [] asks none\n\
         \n\
         # [lan]                         # people on this network are found by themselves\n\
         # discover = true               # announce yourself and list other qqchat users (mDNS)\n\
         # ipmsg = true                  # talk with IP Messenger, Feiq and iptux users (UDP 2425)\n\
         # group = \"\"                    # the IP Messenger group others see\n\
         \n\
         # One contact a line, for example:\n\
         #   bob = \"192.0.2.10:9001\"                        # a qqchat friend without a key\n\
         #   carol = {{ key = \"...\", addrs = [\"...\"] }}      # what `qqchat add` writes\n\
         #   wang = {{ addr = \"192.168.1.30\", ipmsg = true }} # an IP Messenger / Feiq / iptux user\n\
         [contacts]\n"
    );
    // `create_new`: a file that appeared meanwhile is the user's, not ours to overwrite.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(write)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::ContactBook;

    #[test]
    fn the_file_written_loads_and_says_who_listens_where() {
        let dir = std::env::temp_dir().join(format!("qqchat-template-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("sub").join("contacts.toml");
        let listen: SocketAddr = "0.0.0.0:9005".parse().expect("an address");
        create_file(&path, Some("zoë \"z\""), listen).expect("written");
        let book = ContactBook::load(&path).expect("loads");
        assert_eq!(book.me.name, "zoë \"z\"");
        assert_eq!(book.me.listen, listen);
        assert!(book.contacts.is_empty());
        assert!(book.lan.discover && book.lan.ipmsg);
        // Never over a file that is there.
        assert!(create_file(&path, None, listen).is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_a_name_the_login_name_is_used() {
        let dir = std::env::temp_dir().join(format!("qqchat-template-n-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("contacts.toml");
        let listen: SocketAddr = "0.0.0.0:9001".parse().expect("an address");
        create_file(&path, None, listen).expect("written");
        let book = ContactBook::load(&path).expect("loads");
        assert_eq!(book.me.name, crate::contacts::Me::default().name);
        let _ = fs::remove_dir_all(&dir);
    }
}
