//! The documents attached to claims.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yiwang_domain::audit::Change;
use yiwang_domain::mutual_aid::claim::{ClaimId, Document, DocumentId};
use yiwang_domain::store::RepoError;

use crate::db::schema::mutual_aid_documents as d;
use crate::db::{record_change, to_naive, unexpected, Database, TxError};

use super::*;
use yiwang_domain::mutual_aid::store::ClaimDocumentRepository;

#[async_trait]
impl ClaimDocumentRepository for Database {
    async fn add_document(&self, document: &Document, change: &Change) -> Result<(), RepoError> {
        let (doc, change) = (document.clone(), change.clone());
        self.run(move |c| {
            c.transaction(|c| {
                lock_editable(c, &doc.claim_id.to_string(), to_naive(doc.uploaded_at))?;
                diesel::insert_into(d::table)
                    .values((
                        d::id.eq(doc.id.to_string()),
                        d::claim_id.eq(doc.claim_id.to_string()),
                        d::kind.eq(doc.kind.as_str()),
                        d::media_type.eq(doc.media_type.as_str()),
                        d::size_bytes.eq(doc.size_bytes),
                        d::object_key.eq(&doc.object_key),
                        d::file_name.eq(&doc.file_name),
                        d::sha256.eq(&doc.sha256),
                        d::uploaded_at.eq(to_naive(doc.uploaded_at)),
                    ))
                    .execute(c)?;
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
    async fn remove_document(
        &self,
        claim: ClaimId,
        document: DocumentId,
        at: DateTime<Utc>,
        change: &Change,
    ) -> Result<(), RepoError> {
        let change = change.clone();
        self.run(move |c| {
            c.transaction(|c| {
                let now = to_naive(at);
                lock_editable(c, &claim.to_string(), now)?;
                let n = diesel::update(
                    d::table
                        .find(document.to_string())
                        .filter(d::claim_id.eq(claim.to_string()))
                        .filter(d::removed_at.is_null()),
                )
                .set(d::removed_at.eq(now))
                .execute(c)?;
                if n == 0 {
                    return Err(TxError::Repo(RepoError::NotFound));
                }
                record_change(c, &change)?;
                Ok(())
            })
            .map_err(|e: TxError| e.into_repo())
        })
        .await
    }
    async fn document(&self, claim: ClaimId, document: DocumentId) -> Result<Document, RepoError> {
        self.run(move |c| {
            let row: DocumentRow = d::table
                .find(document.to_string())
                .filter(d::claim_id.eq(claim.to_string()))
                .filter(d::removed_at.is_null())
                .select(DocumentRow::as_select())
                .first(c)
                .map_err(unexpected)?;
            row.into_domain()
        })
        .await
    }
}
