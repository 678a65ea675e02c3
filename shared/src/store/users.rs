//! Accounts: the user item and its e-mail's credential item.
//!
//! | item       | pk              | sk           |
//! |------------|-----------------|--------------|
//! | user       | `USER#<id>`     | `PROFILE`    |
//! | credential | `EMAIL#<email>` | `CREDENTIAL` |
//!
//! Sign-up puts both in one transaction, each only if absent, so an e-mail can never have two
//! accounts, whatever the concurrency.

use super::{Item, Store, TxOutcome, USER_SK, classify, from_item, key, to_item, user_pk};
use crate::domain::{Credential, Email, PasswordHash, SignUpError, StoreError, User, UserId};
use crate::ids::new_id;
use crate::ports::UserStore;
use serde::{Deserialize, Serialize};

const CREDENTIAL_SK: &str = "CREDENTIAL";

fn email_pk(email: &Email) -> String {
    format!("EMAIL#{email}")
}

#[derive(Debug, Serialize, Deserialize)]
struct UserItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    user: User,
}

#[derive(Debug, Serialize, Deserialize)]
struct CredentialItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    credential: Credential,
}

impl Store {
    /// The sign-up transaction: the user item and its e-mail's credential item, each only if
    /// absent (action 0 is the user, 1 the credential).
    pub(super) async fn put_user_and_credential(
        &self,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<TxOutcome, StoreError> {
        let user_item = to_item(&UserItem {
            pk: user_pk(user.id),
            sk: USER_SK.into(),
            user: user.clone(),
        })?;
        let credential_item = to_item(&CredentialItem {
            pk: email_pk(&user.email),
            sk: CREDENTIAL_SK.into(),
            credential: Credential {
                user_id: user.id,
                password_hash: password_hash.clone(),
            },
        })?;
        self.transact(vec![
            self.put_new(user_item)?,
            self.put_new(credential_item)?,
        ])
        .await
    }

    /// One strongly consistent `GetItem`.
    async fn get_consistent(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }
}

impl UserStore for Store {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &PasswordHash,
    ) -> Result<User, SignUpError> {
        loop {
            let user = User {
                id: UserId::new(new_id()),
                email: email.clone(),
                created_at: crate::time::now_rfc3339(),
            };
            let outcome = self.put_user_and_credential(&user, password_hash).await?;
            if outcome.failed(1) {
                return Err(SignUpError::EmailTaken(email.clone()));
            }
            if let TxOutcome::Committed = outcome {
                return Ok(user);
            }
            // Only the id collided (same millisecond, same random bits): new id.
        }
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.get_consistent(key(user_pk(id), USER_SK))
            .await?
            .map(|i| from_item::<UserItem>(i).map(|u| u.user))
            .transpose()
    }

    async fn get_credential(&self, email: &Email) -> Result<Option<Credential>, StoreError> {
        self.get_consistent(key(email_pk(email), CREDENTIAL_SK))
            .await?
            .map(|i| from_item::<CredentialItem>(i).map(|c| c.credential))
            .transpose()
    }
}
