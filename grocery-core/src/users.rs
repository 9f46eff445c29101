//! Users: the people who own and share lists. The local user (id 1) exists in
//! every database and owns what is made without a server.

use crate::error::Result;
use crate::grocery::Grocery;
use crate::lists::User;

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
    #[tracing::instrument(skip_all, err)]
    pub async fn add(&self, name: &str) -> Result<User> {
        let name = crate::lists::clean_name("user name", name)?;
        self.g.store().add_user(name).await
    }

    /// Every active user, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    #[tracing::instrument(skip_all, err)]
    pub async fn all(&self) -> Result<Vec<User>> {
        self.g.store().users().await
    }

    /// A user by name.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`].
    #[tracing::instrument(skip_all, err)]
    pub async fn find(&self, name: &str) -> Result<User> {
        self.g.store().user_by_name(name.trim().to_string()).await
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::grocery::Grocery;

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
