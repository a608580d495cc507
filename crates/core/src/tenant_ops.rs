//! The operator's tenant operations, audited like every management operation. Each needs
//! the admin (not acting for a tenant); a refusal is not audited, as nothing was attempted.

use crate::tenancy::{Principal, Quotas, TenantRecord, TokenRecord};
use crate::{Error, Manager};

impl Manager {
    /// A new tenant and its first token, in clear this once.
    pub fn create_tenant(
        &self,
        who: &Principal,
        name: &str,
        quotas: Quotas,
    ) -> Result<(TenantRecord, String), Error> {
        who.require_admin()?;
        let outcome = self.tenants().create(name, quotas);
        self.audited(who, "create-tenant", name, outcome)
    }

    pub fn list_tenants(&self, who: &Principal) -> Result<Vec<TenantRecord>, Error> {
        who.require_admin()?;
        Ok(self.tenants().list())
    }

    pub fn describe_tenant(&self, who: &Principal, name: &str) -> Result<TenantRecord, Error> {
        who.require_admin()?;
        self.tenants()
            .list()
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::TenantNotFound(name.to_owned()))
    }

    /// Removes the tenant (its tokens stop working at once), then its models: versions
    /// that are not the default first, so no name loses its default while others remain.
    pub async fn remove_tenant(&self, who: &Principal, name: &str) -> Result<(), Error> {
        who.require_admin()?;
        let outcome = self.remove_with_models(name).await;
        self.audited(who, "remove-tenant", name, outcome)
    }

    async fn remove_with_models(&self, name: &str) -> Result<(), Error> {
        let record = self.tenants().remove(name)?;
        let mine = |m: &crate::Model| m.tenant() == Some(record.name.as_str());
        for (model, is_default) in self.registry().all() {
            if mine(&model) && !is_default {
                self.unregister_unaudited(&model.key, Some(&model.version))
                    .await?;
            }
        }
        for model in self.registry().defaults_of(Some(&record.name)) {
            self.unregister_unaudited(&model.key, Some(&model.version))
                .await?;
        }
        Ok(())
    }

    /// Another token for the tenant (rotation), in clear this once.
    pub fn issue_token(&self, who: &Principal, name: &str) -> Result<(TokenRecord, String), Error> {
        who.require_admin()?;
        let outcome = self.tenants().issue_token(name);
        self.audited(who, "issue-token", name, outcome)
    }

    pub fn revoke_token(&self, who: &Principal, name: &str, id: &str) -> Result<(), Error> {
        who.require_admin()?;
        let outcome = self.tenants().revoke(name, id);
        self.audited(who, "revoke-token", &format!("{name}/{id}"), outcome)
    }
}
