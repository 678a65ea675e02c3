//! `local_gateway seed` and `local_gateway event-token`: what the sample events in `events/`
//! need to show their happy paths (`sam local invoke XFunction -e events/x.json`, and the events
//! test).
//!
//! - `seed` writes fixed, obviously-fixture data into a table: user 1 with a known e-mail and
//!   password, and post 1 owned by it. It goes through the store (`shared::store`), so the items
//!   have exactly the layout the functions write. It is idempotent: what exists is left alone,
//!   except user 1's vote on post 1, which is taken back so `events/vote.json` answers 201 again,
//!   and user 1's session with the fixture refresh token [`REFRESH_TOKEN`], which starts anew so
//!   `events/refresh_token.json` answers 200 again (after it, or `logout.json`, it is a 401).
//! - `event-token` signs a token for user 1 with the **development-only** key of
//!   `sam-local-env.json`, through the same issuer as `POST /login` (so it carries exactly the
//!   claims the authorizer checks), with a lifetime of [`EVENT_TOKEN_YEARS`] years: the events are
//!   static files, and a token that expired after 30 minutes would make the authorizer event
//!   useless. The authorizer refuses tokens that live longer than its
//!   `ACCESS_TOKEN_EXPIRE_MINUTES`, so `sam-local-env.json` sets that to [`EVENT_TOKEN_MINUTES`]
//!   for `AuthorizerFunction` alone. That is safe only because the key never signs anything for a
//!   deployed stack (those use a key from Secrets Manager, and the template's lifetime). When
//!   the authorizer checks more claims, run `local_gateway event-token --update-events` and
//!   commit the events.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shared::config::{HashConfig, JwtConfig, MIN_JWT_SECRET_BYTES, SessionConfig};
use shared::domain::{Email, Post, PostId, StoreError, User, UserId, VoteError};
use shared::passwords::Passwords;
use shared::ports::VoteStore;
use shared::store::{Seeded, Store};

use crate::cli::{EventTokenArgs, SeedArgs, find_template};
use crate::dynamodb::{client_for_endpoint, ensure_table_from_def, wait_until_ready};
use crate::error::{Error, Result};
use crate::template::{ResolveOptions, Template};

/// The fixture user's id (the events' `requestContext.authorizer.user_id`).
pub const USER_ID: UserId = UserId::new(1);
/// The fixture user's e-mail (`events/login.json`'s `username`).
pub const EMAIL: &str = "sam.local@example.com";
/// The fixture user's password (`events/login.json`), public: development only.
pub const PASSWORD: &str = "correct-horse-battery";
/// When the fixture user "signed up" (the events' `requestContext.authorizer.created_at`).
pub const USER_CREATED_AT: &str = "2026-11-21T04:19:58.123456+00:00";
/// The fixture post's id (the `{id}` of the `/posts/{id}` events and `vote.json`'s `post_id`).
pub const POST_ID: PostId = PostId::new(1);
/// Lifetime of the sample events' token, in years (see the module doc for why so long).
pub const EVENT_TOKEN_YEARS: u32 = 10;
/// [`EVENT_TOKEN_YEARS`] in minutes. The authorizer refuses a token that lives longer than its
/// `ACCESS_TOKEN_EXPIRE_MINUTES`, so `sam-local-env.json` sets that to this for
/// `AuthorizerFunction` (and only there: login keeps issuing 30-minute tokens).
pub const EVENT_TOKEN_MINUTES: u32 = EVENT_TOKEN_YEARS * 365 * 24 * 60;
/// The fixture session's refresh token (`events/refresh_token.json` and `events/logout.json`),
/// public: development only. Each seed starts a new session for user 1 with it.
pub const REFRESH_TOKEN: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
/// The file whose `Parameters.JWT_SECRET` is the development-only key, beside the template.
pub const SAM_LOCAL_ENV: &str = "sam-local-env.json";
/// bcrypt cost of the fixture's hash: its password is published, so cost protects nothing;
/// a low one keeps seeding instant (login reads the cost from the hash).
const BCRYPT_COST: u32 = 4;

/// The fixture user.
pub fn user() -> User {
    User {
        id: USER_ID,
        email: Email::from_trusted(EMAIL),
        created_at: USER_CREATED_AT.into(),
    }
}

/// The fixture post, owned by [`user`].
pub fn post() -> Post {
    Post {
        id: POST_ID,
        title: "Seeded post".into(),
        content: "Post 1 of the sample events, written by `local_gateway seed`.".into(),
        published: true,
        created_at: "2026-11-21T04:20:00.000000+00:00".into(),
        owner: user(),
        votes: 0,
    }
}

/// The template's one table (its local name and definition) and the `FEED_SHARDS` its
/// functions are given: what `seed`, `seed-posts` and `migrate` write with.
pub(crate) struct TemplateTable {
    pub(crate) table: String,
    pub(crate) def: crate::template::TableDef,
    pub(crate) feed_shards: u32,
}

/// Reads [`TemplateTable`] from the template (`template`, else the one found from the current
/// folder), with `table_name` as the local table name when given. `command` names the
/// subcommand in the error when the template has not exactly one table.
pub(crate) fn template_table(
    command: &str,
    template: Option<&Path>,
    table_name: Option<String>,
) -> Result<TemplateTable> {
    let template = Template::load(find_template(template, &cwd())?)?;
    let app = template.resolve(&ResolveOptions {
        table_name,
        ..Default::default()
    })?;
    let [(table, def)] = app.tables.as_slice() else {
        return Err(Error::config(format!(
            "{command}: the template must have exactly one AWS::DynamoDB::Table"
        )));
    };
    let feed_shards = app
        .functions
        .iter()
        .find_map(|f| f.env.get("FEED_SHARDS")?.parse().ok())
        .unwrap_or(shared::config::DEFAULT_FEED_SHARDS);
    Ok(TemplateTable {
        table: table.clone(),
        def: def.clone(),
        feed_shards,
    })
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

fn seeded(s: Seeded) -> &'static str {
    match s {
        Seeded::Created => "created",
        Seeded::AlreadyThere => "already there, left as it is",
    }
}

/// `local_gateway seed`: creates the table from the template when missing, then writes the
/// fixtures. Prints what it found and did on stdout.
pub async fn seed(args: SeedArgs) -> Result<()> {
    let TemplateTable {
        table,
        def,
        feed_shards,
    } = template_table("seed", args.template.as_deref(), args.table_name.clone())?;
    let endpoint = &args.dynamodb_endpoint;
    wait_until_ready(endpoint, Duration::from_secs(30)).await?;
    let client = client_for_endpoint(endpoint);
    ensure_table_from_def(&client, &def, &table).await?;
    // The post's feed shard must be one the functions read: their FEED_SHARDS.
    let store = Store::new(client, table.clone()).with_feed_shards(feed_shards);
    let failed = |e: StoreError| Error::DynamoDb(format!("seed: {e}"));

    let hash = Passwords::new(HashConfig {
        bcrypt_cost: BCRYPT_COST,
    })
    .hash(PASSWORD.into())
    .await
    .map_err(|e| Error::Runtime(format!("seed: hashing the password: {e}")))?;
    let user = store.seed_user(&user(), &hash).await.map_err(failed)?;
    let post = store.seed_post(&post()).await.map_err(failed)?;
    let vote = match store.remove_vote(POST_ID, USER_ID).await {
        Ok(()) => "taken back (events/vote.json adds it again)",
        Err(VoteError::VoteNotFound) => "none",
        Err(VoteError::Store(e)) => return Err(failed(e)),
        Err(e) => return Err(Error::DynamoDb(format!("seed: vote: {e:?}"))),
    };
    // A session of the template's default lifetimes (7 days, at most 30).
    let sessions = SessionConfig {
        refresh_expire_minutes: 7 * 24 * 60,
        session_max_minutes: 30 * 24 * 60,
    };
    let token_hash = shared::auth::refresh_token_hash(REFRESH_TOKEN);
    let now = shared::auth::unix_now();
    store
        .seed_session(USER_ID, &token_hash, now, &sessions)
        .await
        .map_err(failed)?;
    println!("seeded table {table} at {endpoint}:");
    println!(
        "  user {USER_ID} {EMAIL} (password {PASSWORD}): {}",
        seeded(user)
    );
    println!("  post {POST_ID}: {}", seeded(post));
    println!("  vote of user {USER_ID} on post {POST_ID}: {vote}");
    println!(
        "  session of user {USER_ID} with refresh token {REFRESH_TOKEN}: new (events/refresh_token.json works again)"
    );
    Ok(())
}

/// The development-only key: `Parameters.JWT_SECRET` of an env-vars file.
fn dev_key(path: &Path) -> Result<Vec<u8>> {
    let bad = |why: String| Error::config(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let key = json["Parameters"]["JWT_SECRET"]
        .as_str()
        .ok_or_else(|| bad("no Parameters.JWT_SECRET string".into()))?;
    if key.len() < MIN_JWT_SECRET_BYTES {
        return Err(bad(format!(
            "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
        )));
    }
    Ok(key.as_bytes().to_vec())
}

/// A token for the fixture user, signed with `key`, valid for [`EVENT_TOKEN_YEARS`] years.
pub fn event_token_with(key: Vec<u8>) -> Result<String> {
    let jwt = shared::auth::Jwt::new(&JwtConfig::new(key, EVENT_TOKEN_MINUTES));
    jwt.issue(USER_ID)
        .map_err(|e| Error::Runtime(format!("event-token: {e}")))
}

/// Replaces the token the events carry now (`events/authorizer.json`'s) with `token` in every
/// `events/*.json`, as text, so the files keep their layout. Returns the files changed.
fn update_events(events: &Path, token: &str) -> Result<Vec<PathBuf>> {
    let io = |p: &Path, e: std::io::Error| Error::Runtime(format!("{}: {e}", p.display()));
    let authorizer = events.join("authorizer.json");
    let text = std::fs::read_to_string(&authorizer).map_err(|e| io(&authorizer, e))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::config(format!("{}: not JSON: {e}", authorizer.display())))?;
    // A REQUEST authorizer event: the token is in its Authorization header.
    let old = json["headers"]["Authorization"]
        .as_str()
        .and_then(|t| t.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::config(format!(
                "{}: no `Bearer <token>` Authorization header",
                authorizer.display()
            ))
        })?
        .to_owned();
    // Protected events also carry the token's expiry in `requestContext.authorizer.exp` (the
    // handlers check it): it changes with the token.
    let exp_swap = match (token_exp(&old), token_exp(token)) {
        (Some(o), Some(n)) if o != n => {
            Some((format!("\"exp\": \"{o}\""), format!("\"exp\": \"{n}\"")))
        }
        _ => None,
    };
    let mut changed = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(events)
        .map_err(|e| io(events, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| io(&file, e))?;
        if text.contains(&old) && old != token {
            let mut text = text.replace(&old, token);
            if let Some((from, to)) = &exp_swap {
                text = text.replace(from.as_str(), to);
            }
            std::fs::write(&file, text).map_err(|e| io(&file, e))?;
            changed.push(file);
        }
    }
    Ok(changed)
}

/// The `exp` claim of a JWT, read without checking it (the events' own token).
fn token_exp(token: &str) -> Option<u64> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?["exp"].as_u64()
}

/// `local_gateway event-token`: prints a fresh token for the fixture user (and with
/// `--update-events` writes it into `events/`).
pub fn event_token(args: EventTokenArgs) -> Result<()> {
    let template_path = find_template(args.template.as_deref(), &cwd())?;
    let project = Template::load(&template_path)?.project_dir();
    let env_vars = args
        .env_vars
        .clone()
        .unwrap_or_else(|| project.join(SAM_LOCAL_ENV));
    let token = event_token_with(dev_key(&env_vars)?)?;
    if args.update_events {
        for file in update_events(&project.join("events"), &token)? {
            tracing::info!("updated {}", file.display());
        }
    }
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_token_is_a_login_token_for_user_1_that_lives_for_years() {
        let key = b"a-development-only-key-of-32-bytes-or-more".to_vec();
        let token = event_token_with(key.clone()).unwrap();
        // The authorizer as sam-local-env.json configures it accepts it...
        let dev = shared::auth::Jwt::new(&JwtConfig::new(key.clone(), EVENT_TOKEN_MINUTES));
        let claims = dev
            .verify(&token)
            .expect("the authorizer's checks accept it");
        assert_eq!(claims.user_id, USER_ID.get());
        assert!(claims.exp - claims.iat >= u64::from(EVENT_TOKEN_YEARS - 1) * 365 * 24 * 3600);
        // ...and one configured as a deployed stack refuses it: its lifetime is too long.
        let deployed = shared::auth::Jwt::new(&JwtConfig::new(key, 30));
        assert!(deployed.verify(&token).is_err());
    }

    #[test]
    fn sam_local_env_lets_the_authorizer_accept_the_event_token_and_nothing_else_longer() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SAM_LOCAL_ENV);
        let env: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            env["AuthorizerFunction"]["ACCESS_TOKEN_EXPIRE_MINUTES"],
            serde_json::json!(EVENT_TOKEN_MINUTES.to_string())
        );
        assert!(
            env["Parameters"]
                .get("ACCESS_TOKEN_EXPIRE_MINUTES")
                .is_none(),
            "login and refresh_token keep issuing tokens of the template's lifetime"
        );
    }

    #[test]
    fn the_fixture_post_belongs_to_the_fixture_user() {
        assert_eq!(post().owner, user());
        assert_eq!(post().votes, 0);
    }

    #[test]
    fn the_dev_key_file_must_name_a_long_enough_key() {
        let dir = std::env::temp_dir();
        let p = dir.join(format!("lgw-dev-key-{}.json", std::process::id()));
        std::fs::write(&p, r#"{"Parameters": {"JWT_SECRET": "short"}}"#).unwrap();
        let short = dev_key(&p).unwrap_err().to_string();
        std::fs::write(&p, r#"{"Parameters": {}}"#).unwrap();
        let missing = dev_key(&p).unwrap_err().to_string();
        std::fs::remove_file(&p).unwrap();
        assert!(short.contains("at least 32 bytes"), "{short}");
        assert!(missing.contains("JWT_SECRET"), "{missing}");
    }

    #[test]
    fn update_events_replaces_the_current_token_everywhere_as_text() {
        let dir = std::env::temp_dir().join(format!("lgw-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("authorizer.json"),
            "{\n  \"headers\": {\"Authorization\": \"Bearer OLD.T.K\"}\n}\n",
        )
        .unwrap();
        std::fs::write(dir.join("get_post.json"), "{\"a\": \"Bearer OLD.T.K\"}").unwrap();
        std::fs::write(dir.join("root.json"), "{}").unwrap();
        let changed = update_events(&dir, "NEW.T.K").unwrap();
        let authorizer = std::fs::read_to_string(dir.join("authorizer.json")).unwrap();
        let get_post = std::fs::read_to_string(dir.join("get_post.json")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(changed.len(), 2);
        assert_eq!(
            authorizer,
            "{\n  \"headers\": {\"Authorization\": \"Bearer NEW.T.K\"}\n}\n"
        );
        assert_eq!(get_post, "{\"a\": \"Bearer NEW.T.K\"}");
    }

    #[test]
    fn update_events_moves_the_authorizer_contexts_exp_with_the_token() {
        let token = |exp: u64| {
            use base64::Engine as _;
            let claims = serde_json::json!({ "exp": exp }).to_string();
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
            format!("h.{payload}.s")
        };
        let dir = tempfile::tempdir().unwrap();
        let old = token(100);
        std::fs::write(
            dir.path().join("authorizer.json"),
            format!("{{\"headers\": {{\"Authorization\": \"Bearer {old}\"}}}}"),
        )
        .unwrap();
        let event = |t: &str, exp: u64| {
            format!("{{\"h\": \"Bearer {t}\", \"authorizer\": {{\"exp\": \"{exp}\"}}}}")
        };
        std::fs::write(dir.path().join("get_post.json"), event(&old, 100)).unwrap();
        let new = token(200);
        update_events(dir.path(), &new).unwrap();
        let get_post = std::fs::read_to_string(dir.path().join("get_post.json")).unwrap();
        assert_eq!(get_post, event(&new, 200));
    }
}
