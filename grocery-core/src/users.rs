//! Users: the people who own and share lists. The local user (id 1) exists in
//! every database and owns what is made without a server.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::grocery::Grocery;
use crate::lists::{User, UserId};

/// Prefix of every API token, so that a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "gro_";

/// A new user's (or a rotated) token: shown once, stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issued {
    /// The user.
    pub user: User,
    /// The bearer token: `gro_` and 43 base64url characters (256 random bits).
    pub token: String,
}

/// SHA-256 of a token, hex. Tokens are 256-bit random, so a fast hash is
/// enough: there is nothing to guess from it.
fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

fn new_token() -> Result<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for a token: {e}")))?;
    // 256 bits as base64url without padding: 43 characters.
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = String::from(TOKEN_PREFIX);
    for b in bytes {
        bits = (bits << 8) | u32::from(b);
        n += 8;
        while n >= 6 {
            n -= 6;
            out.push(char::from(ALPHABET[((bits >> n) & 63) as usize]));
        }
    }
    if n > 0 {
        out.push(char::from(ALPHABET[((bits << (6 - n)) & 63) as usize]));
    }
    Ok(out)
}

/// User operations; get one from [`Grocery::users`].
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    g: &'a Grocery,
}

impl<'a> Users<'a> {
    pub(crate) fn new(g: &'a Grocery) -> Self {
        Users { g }
    }

    /// Create a user.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] for a bad name; [`crate::Error::Conflict`]
    /// if the name is taken (case-insensitive).
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn add(&self, name: &str) -> Result<User> {
        let name = crate::lists::clean_name("user name", name)?;
        self.g.store().add_user(name).await
    }

    /// Create a user with an API token (for `Authorization: Bearer`). The token
    /// is returned once and stored only as its SHA-256.
    ///
    /// # Errors
    /// As [`Users::add`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn add_with_token(&self, name: &str) -> Result<Issued> {
        let user = self.add(name).await?;
        self.issue(user).await
    }

    /// Replace a user's token with a new one (the old one stops working).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown or revoked user.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn rotate_token(&self, name: &str) -> Result<Issued> {
        let user = self.find(name).await?;
        self.issue(user).await
    }

    async fn issue(&self, user: User) -> Result<Issued> {
        let token = new_token()?;
        self.g
            .store()
            .set_token_hash(user.id, token_hash(&token))
            .await?;
        // The user's old token, if remembered, stops working now.
        self.g.tokens().invalidate_all();
        Ok(Issued { user, token })
    }

    /// The active user a bearer token belongs to; `None` for an unknown,
    /// malformed or revoked token. Tokens are remembered for a second, so a
    /// request usually needs no read: a token revoked or replaced through this
    /// `Grocery` stops working at once, one revoked by another process sharing
    /// the database within that second.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>> {
        let token = token.trim();
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 100 {
            return Ok(None);
        }
        let hash = token_hash(token);
        if let Some(user) = self.g.tokens().get(&hash) {
            return Ok(Some(user));
        }
        let user = self.g.store().user_by_token_hash(hash.clone()).await?;
        if let Some(u) = &user {
            self.g.tokens().insert(hash, u.clone());
        }
        Ok(user)
    }

    /// Revoke a user: their token stops working at once and their name is
    /// free again. Their lists stay in the database, out of reach.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidInput`] for the local user.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn revoke(&self, name: &str) -> Result<User> {
        let user = self.g.store().revoke_user(name.trim().to_string()).await?;
        self.g.tokens().invalidate_all();
        Ok(user)
    }

    /// A user by id, if active.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn get(&self, id: UserId) -> Result<User> {
        self.all()
            .await?
            .into_iter()
            .find(|u| u.id == id)
            .ok_or_else(|| Error::not_found("user", id.to_string()))
    }

    /// Every active user, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn all(&self) -> Result<Vec<User>> {
        self.g.store().users().await
    }

    /// A user by name.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`].
    #[tracing::instrument(level = "debug", skip_all, err)]
    pub async fn find(&self, name: &str) -> Result<User> {
        self.g.store().user_by_name(name.trim().to_string()).await
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::grocery::Grocery;

    #[tokio::test]
    async fn tokens_authenticate_until_rotated_or_revoked() {
        let (g, _dir) = Grocery::open_empty_for_test().await;
        let issued = g.users().add_with_token("Ana").await.unwrap();
        assert!(issued.token.starts_with(super::TOKEN_PREFIX));
        assert_eq!(issued.token.len(), 4 + 43);
        let who = g.users().authenticate(&issued.token).await.unwrap();
        assert_eq!(who.map(|u| u.id), Some(issued.user.id));
        for bad in [
            "",
            "gro_",
            "nope",
            "gro_AAAA",
            &format!("{}x", issued.token),
        ] {
            assert_eq!(g.users().authenticate(bad).await.unwrap(), None, "{bad}");
        }
        let rotated = g.users().rotate_token("ana").await.unwrap();
        assert_ne!(rotated.token, issued.token);
        assert_eq!(g.users().authenticate(&issued.token).await.unwrap(), None);
        assert!(
            g.users()
                .authenticate(&rotated.token)
                .await
                .unwrap()
                .is_some()
        );
        g.users().revoke("Ana").await.unwrap();
        assert_eq!(g.users().authenticate(&rotated.token).await.unwrap(), None);
        // The name is free again; the local user cannot be revoked.
        g.users().add_with_token("Ana").await.unwrap();
        assert!(matches!(
            g.users().revoke("local").await,
            Err(Error::InvalidInput(_))
        ));
    }

    #[tokio::test]
    async fn add_list_find_and_refuse_duplicates() {
        let (g, _dir) = Grocery::open_empty_for_test().await;
        let ana = g.users().add("Ana").await.unwrap();
        assert!(matches!(
            g.users().add("ana").await,
            Err(Error::Conflict(_))
        ));
        assert!(g.users().add("").await.is_err());
        let names: Vec<String> = g
            .users()
            .all()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["local", "Ana"]);
        assert_eq!(g.users().find("ANA").await.unwrap().id, ana.id);
        assert!(matches!(
            g.users().find("bob").await,
            Err(Error::NotFound { .. })
        ));
        // Ana's lists are hers alone.
        let l = g.lists_for(ana.id).create("Mine").await.unwrap();
        assert!(g.lists().get(l.id).await.is_err());
    }
}
