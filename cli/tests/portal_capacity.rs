//! Review 2, finding 7: an anonymous caller cannot fill the portal's sign-in capacity. 10,447 anonymous
//! `GET /portal/signin` in 3 s once made every sign-in fail for 10 minutes; now a sign-in in progress lives in its
//! own browser's sealed cookie, so a flood takes no room, and a sign-in begun before it still completes.

mod common;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

#[test]
fn a_flood_of_anonymous_sign_ins_takes_no_room() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let base = served.base.as_str();
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let begin = || {
        let r = http.get(format!("{base}/portal/signin")).send().unwrap();
        assert_eq!(r.status(), 303, "to the authorization endpoint");
        let cookie = r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let to = url::Url::parse(r.headers()[LOCATION].to_str().unwrap()).unwrap();
        let state = to.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        (cookie, state)
    };
    let (cookie, state) = begin();
    for _ in 0..11_000 {
        let r = http.get(format!("{base}/portal/signin")).send().unwrap();
        assert_eq!(r.status(), 303);
    }
    // The sign-in begun before the flood comes back (here refused by the user at the provider): the portal still
    // knows it, and says what happened rather than "stale".
    let back = http
        .get(format!("{base}/portal/callback?state={state}&error=access_denied"))
        .header(COOKIE, &cookie)
        .send()
        .unwrap();
    assert_eq!(back.status(), 403);
    assert!(back.text().unwrap().contains("You did not allow"));
    // Another browser's cookie, or none, does not finish it.
    let (other_cookie, _) = begin();
    let r = http
        .get(format!("{base}/portal/callback?state={state}&error=access_denied"))
        .header(COOKIE, &other_cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{base}/portal/callback?state={state}&error=access_denied"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
}
