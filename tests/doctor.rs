//! `qqchat doctor` on loopback: which contacts answer, with a fix for those that do not, and
//! the exit code that says whether everything did. (STUN and the NAT: tests/nat_lab.rs.)

use qqchat_testkit::{Person, friends, run, text};

fn doctor(person: &Person) -> (Option<i32>, String) {
    let out = run(
        &person.dir,
        &["--contacts", &person.contacts(), "doctor"],
        None,
    );
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    (out.status.code(), said)
}

#[test]
fn doctor_says_which_contacts_answer_and_what_to_check_for_the_others() {
    let (alice, bob) = friends("alice", "bob");
    let carol = Person::new("carol");
    alice.add(&carol.id());
    let bob_listens = bob.listen();

    let (code, said) = doctor(&alice);
    assert_eq!(code, Some(1), "carol is not running: {said}");
    let bob_at = format!("127.0.0.1:{}", bob.port);
    let carol_at = format!("127.0.0.1:{}", carol.port);
    for wanted in [
        format!("socket  127.0.0.1:{}", alice.port),
        "STUN is off".to_owned(),
        format!("bob answers on {bob_at} (loopback, rtt "),
        format!("carol does not answer on {carol_at}"),
        format!(
            "carol does not answer on {carol_at}: is qqchat running on this machine, on port {}?",
            carol.port
        ),
    ] {
        assert!(said.contains(&wanted), "no {wanted:?} in:\n{said}");
    }

    // Asked of the running qqchat, from its socket: everything answers.
    let (code, said) = doctor(&bob);
    assert!(said.contains("asked the qqchat running here"), "{said}");
    assert!(said.contains("alice does not answer"), "{said}");
    assert_eq!(code, Some(1), "{said}");
    drop(bob_listens);
    let _alice_listens = alice.listen();
    let (code, said) = doctor(&bob);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("alice answers on"), "{said}");
    assert!(said.contains("Everything answered."), "{said}");
}
