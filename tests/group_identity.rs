//! Group messages are signed with the identity key qqchat already has (XEdDSA over the X25519
//! key Noise uses): an identity file written before groups existed, and the contact string
//! friends already hold, sign and check group messages with no change to either.

use qqchat::identity::{load_or_create, parse_contact_string};
use qqchat::proto::group::{Group, GroupError, GroupMsg, Member};

/// An identity file as qqchat wrote it before groups (a key made for this test only).
const IDENTITY: &str = r#"# qqchat identity. The private key proves you are you: keep this file to yourself.
# Give friends the public key, or the line `qqchat id` prints.
private = "HeuOdqPubVFZ5gluZUc5mEjPYzHHXTl96stT3kIPmaU="
public = "DqzWEjwfoaPcjNCK+AjC0Khf3b5RsVvo8r2XMnous18="
"#;

/// What a friend was given for it.
const CONTACT: &str =
    "qqchat:alice@127.0.0.1:9000?key=DqzWEjwfoaPcjNCK+AjC0Khf3b5RsVvo8r2XMnous18=";

#[test]
fn an_identity_file_from_before_groups_signs_what_friends_check_with_the_key_they_have() {
    let dir = qqchat_testkit::TempDir::new("identity-groups");
    let path = dir.path().join("identity.toml");
    std::fs::write(&path, IDENTITY).expect("written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("mode");
    }
    let keys = load_or_create(&path).expect("the old file loads");
    let friend_has = parse_contact_string(CONTACT)
        .expect("the old string parses")
        .key;
    assert_eq!(keys.public, friend_has);
    let member = Member {
        key: qqchat::proto::secure::Keypair::generate()
            .expect("a key pair")
            .public,
        name: "bob".into(),
    };
    let (_, msg) =
        Group::create(&keys, "hikers", [7; 16], vec![member], 0, rand::rng()).expect("a group");
    // Whoever gets it checks it against the key in the contact string.
    let read = GroupMsg::decode(msg.bytes()).expect("the signature checks out");
    assert_eq!(read.content.author, friend_has);
    // And the file is left exactly as it was.
    assert_eq!(std::fs::read_to_string(&path).expect("read"), IDENTITY);
    let mut forged = msg.bytes().to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(GroupMsg::decode(&forged), Err(GroupError::BadSignature));
}
