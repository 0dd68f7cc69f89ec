//! Documents and files: the same SQL on both backends, in each backend's dialect.

use std::collections::BTreeMap;

use accesslog_core::Timestamp;
use accesslog_core::doctype::DocType;
use async_trait::async_trait;

use super::{Backend, SqlBacked, SqlRow, Stmt};
use crate::log::to_i64;
use crate::records::{
    add_columns_sql, create_table_sql, document_values, drop_field_index_sql, index_sql,
    insert_sql, list_sql, removed_columns, row_columns, select_columns, selected_values,
    update_columns, update_sql,
};
use crate::{
    ChildRows, Dialect, Document, DocumentStore, FileRecord, ListQuery, NewDocument, SqlValue,
    StoreError, StoreResult,
};

const FILE_SELECT: &str = "SELECT name, file_name, is_private, attached_to_doctype, \
    attached_to_name, file_size, content_sha256, owner, creation FROM files ";

fn file_from_row(row: &impl SqlRow) -> StoreResult<FileRecord> {
    let size: i64 = row.get("file_size")?;
    Ok(FileRecord {
        name: row.get("name")?,
        file_name: row.get("file_name")?,
        is_private: row.get("is_private")?,
        attached_to_doctype: row.get("attached_to_doctype")?,
        attached_to_name: row.get("attached_to_name")?,
        file_size: u64::try_from(size)
            .map_err(|_| StoreError::Other(format!("file size {size} is negative")))?,
        content_sha256: row.get("content_sha256")?,
        owner: row.get("owner")?,
        creation: Timestamp::from_micros(row.get("creation")?),
    })
}

fn not_found(doctype: &DocType, name: &str) -> StoreError {
    StoreError::NotFound(format!("{} {name} not found", doctype.name))
}

#[async_trait]
impl<T: SqlBacked> DocumentStore for T {
    async fn sync_doctype(&self, doctype: &DocType) -> StoreResult<()> {
        let sql = self.sql();
        let mut tx = sql.begin().await?;
        let conn = &mut *tx;
        <T::Db as Backend>::execute(conn, Stmt::new(create_table_sql(doctype, sql.dialect())))
            .await?;
        let existing = existing_columns::<T::Db>(conn, sql.dialect(), doctype).await?;
        for ddl in add_columns_sql(doctype, &existing, sql.dialect())
            .into_iter()
            .chain(index_sql(doctype))
        {
            <T::Db as Backend>::execute(conn, Stmt::new(ddl)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn removed_columns(&self, doctype: &DocType) -> StoreResult<Vec<String>> {
        let sql = self.sql();
        let existing =
            existing_columns::<T::Db>(&mut *sql.conn().await?, sql.dialect(), doctype).await?;
        Ok(removed_columns(doctype, existing))
    }

    async fn drop_columns(&self, doctype: &DocType, columns: &[String]) -> StoreResult<()> {
        let removable = self.removed_columns(doctype).await?;
        let mut tx = self.sql().begin().await?;
        for column in columns {
            if !removable.contains(column) {
                return Err(StoreError::Other(format!(
                    "{column} is not a removed field of {}",
                    doctype.name
                )));
            }
            <T::Db as Backend>::execute(&mut *tx, Stmt::new(drop_field_index_sql(doctype, column)))
                .await?;
            let drop = format!("ALTER TABLE {} DROP COLUMN {column}", doctype.table_name());
            <T::Db as Backend>::execute(&mut *tx, Stmt::new(drop)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn reserve_in_series(&self, prefix: &str, count: u64) -> StoreResult<u64> {
        let count = to_i64(count.max(1))?;
        let last: i64 = self
            .sql()
            .fetch_one(
                Stmt::new(
                    "INSERT INTO naming_series (prefix, current) VALUES ($1, $2)
                     ON CONFLICT (prefix) DO UPDATE SET current = naming_series.current + $2
                     RETURNING current",
                )
                .bind(prefix)
                .bind(count),
            )
            .await?
            .get("current")?;
        u64::try_from(last - count + 1)
            .map_err(|_| StoreError::Other(format!("series {prefix:?} is at {last}")))
    }

    async fn insert_documents(
        &self,
        doctype: &DocType,
        docs: &[NewDocument<'_>],
    ) -> StoreResult<()> {
        let sql = self.sql();
        let mut tx = sql.begin().await?;
        for d in docs {
            insert_one::<T::Db>(&mut tx, sql.dialect(), doctype, &d.doc, &d.children).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_documents(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        query: &ListQuery<'_>,
    ) -> StoreResult<Vec<BTreeMap<String, SqlValue>>> {
        let sql = self.sql();
        let (select, binds) = list_sql(doctype, children, query, sql.dialect());
        let rows = sql
            .fetch_all(Stmt::new(select).bind_values(&binds, &[]))
            .await?;
        rows.iter()
            .map(|r| selected_values(r, doctype, query.fields))
            .collect()
    }

    async fn update_document(
        &self,
        doctype: &DocType,
        name: &str,
        values: &BTreeMap<String, SqlValue>,
        children: &[ChildRows<'_>],
    ) -> StoreResult<()> {
        let sql = self.sql();
        let (cols, mut vals) = update_columns(doctype, values, sql.dialect());
        if cols.is_empty() {
            return Err(StoreError::Other("nothing to update".into()));
        }
        vals.push(SqlValue::Text(name.to_owned()));
        let update = format!(
            "{} RETURNING name",
            update_sql(doctype, &cols, sql.dialect())
        );
        let mut tx = sql.begin().await?;
        let updated = <T::Db as Backend>::fetch_optional(
            &mut *tx,
            Stmt::new(update).bind_values(&vals, &cols),
        )
        .await?;
        if updated.is_none() {
            return Err(not_found(doctype, name));
        }
        for child in children {
            let delete = format!(
                "DELETE FROM {} WHERE parent = $1 AND parenttype = $2 AND parentfield = $3",
                child.doctype.table_name()
            );
            let stmt = Stmt::new(delete)
                .bind(name)
                .bind(&doctype.name)
                .bind(child.fieldname);
            <T::Db as Backend>::execute(&mut *tx, stmt).await?;
        }
        let doc = Document {
            name: name.to_owned(),
            values: values.clone(),
            ..Default::default()
        };
        insert_children::<T::Db>(&mut tx, sql.dialect(), doctype, &doc, children).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_document(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        name: &str,
    ) -> StoreResult<()> {
        let mut tx = self.sql().begin().await?;
        for (_, child) in children {
            let delete = format!(
                "DELETE FROM {} WHERE parent = $1 AND parenttype = $2",
                child.table_name()
            );
            <T::Db as Backend>::execute(&mut *tx, Stmt::new(delete).bind(name).bind(&doctype.name))
                .await?;
        }
        let delete = format!(
            "DELETE FROM {} WHERE name = $1 RETURNING name",
            doctype.table_name()
        );
        let deleted =
            <T::Db as Backend>::fetch_optional(&mut *tx, Stmt::new(delete).bind(name)).await?;
        if deleted.is_none() {
            return Err(not_found(doctype, name));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_document(
        &self,
        doctype: &DocType,
        children: &[(&str, &DocType)],
        name: &str,
    ) -> StoreResult<Option<Document>> {
        let sql = self.sql();
        let select = format!(
            "SELECT {} FROM {} WHERE name = $1",
            select_columns(doctype),
            doctype.table_name()
        );
        let Some(row) = sql.fetch_optional(Stmt::new(select).bind(name)).await? else {
            return Ok(None);
        };
        let mut doc = Document {
            name: name.to_owned(),
            values: document_values(&row, doctype)?,
            ..Default::default()
        };
        for (fieldname, child) in children {
            let select = format!(
                "SELECT {} FROM {} WHERE parent = $1 AND parenttype = $2 AND parentfield = $3 ORDER BY idx",
                select_columns(child),
                child.table_name()
            );
            let rows = sql
                .fetch_all(
                    Stmt::new(select)
                        .bind(name)
                        .bind(&doctype.name)
                        .bind(*fieldname),
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut values = document_values(r, child)?;
                values.insert("name".to_owned(), SqlValue::Text(r.get("name")?));
                out.push(values);
            }
            doc.children.insert((*fieldname).to_owned(), out);
        }
        Ok(Some(doc))
    }

    async fn add_file(&self, f: &FileRecord) -> StoreResult<()> {
        self.sql()
            .execute(
                Stmt::new(
                    "INSERT INTO files (name, file_name, is_private, attached_to_doctype, attached_to_name,
                                        file_size, content_sha256, owner, creation)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&f.name)
                .bind(&f.file_name)
                .bind(f.is_private)
                .bind(&f.attached_to_doctype)
                .bind(&f.attached_to_name)
                .bind(to_i64(f.file_size)?)
                .bind(&f.content_sha256)
                .bind(&f.owner)
                .bind(f.creation.as_micros()),
            )
            .await
    }

    async fn file_by_url(
        &self,
        is_private: bool,
        file_name: &str,
    ) -> StoreResult<Option<FileRecord>> {
        let select = format!("{FILE_SELECT}WHERE is_private = $1 AND file_name = $2");
        let row = self
            .sql()
            .fetch_optional(Stmt::new(select).bind(is_private).bind(file_name))
            .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    async fn file_by_id(&self, name: &str) -> StoreResult<Option<FileRecord>> {
        let select = format!("{FILE_SELECT}WHERE name = $1");
        let row = self
            .sql()
            .fetch_optional(Stmt::new(select).bind(name))
            .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    async fn list_files(&self, limit: u32, offset: u64) -> StoreResult<Vec<FileRecord>> {
        let select = format!("{FILE_SELECT}ORDER BY creation DESC, name LIMIT $1 OFFSET $2");
        let rows = self
            .sql()
            .fetch_all(
                Stmt::new(select)
                    .bind(i64::from(limit))
                    .bind(to_i64(offset)?),
            )
            .await?;
        rows.iter().map(file_from_row).collect()
    }

    async fn files_of(&self, doctype: &str, name: &str) -> StoreResult<Vec<FileRecord>> {
        let select = format!(
            "{FILE_SELECT}WHERE attached_to_doctype = $1 AND attached_to_name = $2 ORDER BY creation, name"
        );
        let rows = self
            .sql()
            .fetch_all(Stmt::new(select).bind(doctype).bind(name))
            .await?;
        rows.iter().map(file_from_row).collect()
    }
}

/// The columns a document type's table has now.
async fn existing_columns<DB: Backend>(
    conn: &mut DB::Connection,
    dialect: Dialect,
    doctype: &DocType,
) -> StoreResult<Vec<String>> {
    let table = doctype.table_name();
    let rows = DB::fetch_all(
        conn,
        Stmt::new(dialect.existing_columns_sql()).bind(table.as_str()),
    )
    .await?;
    rows.iter().map(|r| r.get(0)).collect()
}

/// One document and its child rows, inside the caller's transaction.
async fn insert_one<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    dialect: Dialect,
    doctype: &DocType,
    doc: &Document,
    children: &[ChildRows<'_>],
) -> StoreResult<()> {
    let std_value = |k: &str| doc.values.get(k).cloned().unwrap_or(SqlValue::Null);
    let standard = vec![
        ("name", SqlValue::Text(doc.name.clone())),
        ("owner", std_value("owner")),
        ("creation", std_value("creation")),
        ("modified", std_value("modified")),
        ("modified_by", std_value("modified_by")),
    ];
    let (cols, vals) = row_columns(doctype, standard, &doc.values, dialect);
    let insert = insert_sql(&doctype.table_name(), &cols, dialect);
    DB::execute(&mut **tx, Stmt::new(insert).bind_values(&vals, &cols))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("{} {} already exists", doctype.name, doc.name))
            }
            other => other,
        })?;
    insert_children(tx, dialect, doctype, doc, children).await
}

/// The child rows of a document, inside the caller's transaction.
async fn insert_children<DB: Backend>(
    tx: &mut sqlx::Transaction<'static, DB>,
    dialect: Dialect,
    doctype: &DocType,
    doc: &Document,
    children: &[ChildRows<'_>],
) -> StoreResult<()> {
    let std_value = |k: &str| doc.values.get(k).cloned().unwrap_or(SqlValue::Null);
    for child in children {
        for (i, row) in child.rows.iter().enumerate() {
            let standard = vec![
                (
                    "name",
                    SqlValue::Text(format!(
                        "{}-{}",
                        doc.name,
                        accesslog_core::secrets::random_hex(5)
                    )),
                ),
                ("owner", std_value("owner")),
                ("creation", std_value("creation")),
                ("modified", std_value("modified")),
                ("modified_by", std_value("modified_by")),
                ("parent", SqlValue::Text(doc.name.clone())),
                ("parenttype", SqlValue::Text(doctype.name.clone())),
                ("parentfield", SqlValue::Text(child.fieldname.to_owned())),
                (
                    "idx",
                    SqlValue::Int(i64::try_from(i + 1).unwrap_or(i64::MAX)),
                ),
            ];
            let (cols, vals) = row_columns(child.doctype, standard, row, dialect);
            let insert = insert_sql(&child.doctype.table_name(), &cols, dialect);
            DB::execute(&mut **tx, Stmt::new(insert).bind_values(&vals, &cols)).await?;
        }
    }
    Ok(())
}
