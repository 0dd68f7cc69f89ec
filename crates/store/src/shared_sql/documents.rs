//! `impl_document_store!`: documents and files, the same SQL on both backends.

/// Implements `DocumentStore` for a backend's store type over its connection and row types.
#[macro_export]
macro_rules! impl_document_store {
    ($store:ident, $conn:ty, $row:ty) => {
        mod document_store {
            #[allow(unused_imports)]
            use super::*;
            use std::collections::BTreeMap;

            use accesslog_core::doctype::DocType;
            use async_trait::async_trait;
            use sqlx::Row;
            use $crate::log::to_i64;
            use $crate::records::{
                add_columns_sql, create_table_sql, document_values, index_sql, insert_sql, list_sql,
                row_columns, select_columns, selected_values, update_columns, update_sql,
            };
            use $crate::{
                ChildRows, Document, DocumentStore, FileRecord, ListQuery, NewDocument, SqlValue,
                StoreError, StoreResult,
            };

            const FILE_SELECT: &str = "SELECT name, file_name, is_private, attached_to_doctype, \
                attached_to_name, file_size, content_sha256, owner, creation FROM files ";

            fn file_from_row(row: &$row) -> StoreResult<FileRecord> {
                let size: i64 = row.try_get("file_size")?;
                Ok(FileRecord {
                    name: row.try_get("name")?,
                    file_name: row.try_get("file_name")?,
                    is_private: row.try_get("is_private")?,
                    attached_to_doctype: row.try_get("attached_to_doctype")?,
                    attached_to_name: row.try_get("attached_to_name")?,
                    file_size: u64::try_from(size)
                        .map_err(|_| StoreError::Other(format!("file size {size} is negative")))?,
                    content_sha256: row.try_get("content_sha256")?,
                    owner: row.try_get("owner")?,
                    creation: Timestamp::from_micros(row.try_get("creation")?),
                })
            }

            #[async_trait]
            impl DocumentStore for super::$store {
                async fn sync_doctype(&self, doctype: &DocType) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query(sqlx::AssertSqlSafe(create_table_sql(doctype, DIALECT)))
                        .execute(&mut *tx)
                        .await?;
                    let existing: Vec<String> = sqlx::query_scalar(EXISTING_COLUMNS)
                        .bind(doctype.table_name())
                        .fetch_all(&mut *tx)
                        .await?;
                    for sql in add_columns_sql(doctype, &existing, DIALECT)
                        .into_iter()
                        .chain(index_sql(doctype))
                    {
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn removed_columns(&self, doctype: &DocType) -> StoreResult<Vec<String>> {
                    let existing: Vec<String> = sqlx::query_scalar(EXISTING_COLUMNS)
                        .bind(doctype.table_name())
                        .fetch_all(&self.pool)
                        .await?;
                    Ok($crate::records::removed_columns(doctype, existing))
                }

                async fn drop_columns(&self, doctype: &DocType, columns: &[String]) -> StoreResult<()> {
                    let removable = self.removed_columns(doctype).await?;
                    let mut tx = self.pool.begin().await?;
                    for column in columns {
                        if !removable.contains(column) {
                            return Err(StoreError::Other(format!(
                                "{column} is not a removed field of {}",
                                doctype.name
                            )));
                        }
                        let drop_index = $crate::records::drop_field_index_sql(doctype, column);
                        sqlx::query(sqlx::AssertSqlSafe(drop_index)).execute(&mut *tx).await?;
                        let sql = format!("ALTER TABLE {} DROP COLUMN {column}", doctype.table_name());
                        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn reserve_in_series(&self, prefix: &str, count: u64) -> StoreResult<u64> {
                    let count = to_i64(count.max(1))?;
                    let last: i64 = sqlx::query_scalar(
                        "INSERT INTO naming_series (prefix, current) VALUES ($1, $2)
                         ON CONFLICT (prefix) DO UPDATE SET current = naming_series.current + $2
                         RETURNING current",
                    )
                    .bind(prefix)
                    .bind(count)
                    .fetch_one(&self.pool)
                    .await?;
                    u64::try_from(last - count + 1)
                        .map_err(|_| StoreError::Other(format!("series {prefix:?} is at {last}")))
                }

                async fn insert_documents(
                    &self,
                    doctype: &DocType,
                    docs: &[NewDocument<'_>],
                ) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await?;
                    for d in docs {
                        insert_one(&mut tx, doctype, &d.doc, &d.children).await?;
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
                    let (sql, binds) = list_sql(doctype, children, query, DIALECT);
                    let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &binds, &[])
                        .fetch_all(&self.pool)
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
                    let mut tx = self.pool.begin().await?;
                    let (cols, mut vals) = update_columns(doctype, values, DIALECT);
                    if cols.is_empty() {
                        return Err(StoreError::Other("nothing to update".into()));
                    }
                    vals.push(SqlValue::Text(name.to_owned()));
                    let done = bind_all(
                        sqlx::query(sqlx::AssertSqlSafe(update_sql(doctype, &cols, DIALECT))),
                        &vals,
                        &cols,
                    )
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound(format!(
                            "{} {name} not found",
                            doctype.name
                        )));
                    }
                    for child in children {
                        let sql = format!(
                            "DELETE FROM {} WHERE parent = $1 AND parenttype = $2 AND parentfield = $3",
                            child.doctype.table_name()
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(name)
                            .bind(&doctype.name)
                            .bind(child.fieldname)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let doc = Document {
                        name: name.to_owned(),
                        values: values.clone(),
                        ..Default::default()
                    };
                    insert_children(&mut tx, doctype, &doc, children).await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn delete_document(
                    &self,
                    doctype: &DocType,
                    children: &[(&str, &DocType)],
                    name: &str,
                ) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await?;
                    for (_, child) in children {
                        let sql = format!(
                            "DELETE FROM {} WHERE parent = $1 AND parenttype = $2",
                            child.table_name()
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(name)
                            .bind(&doctype.name)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let sql = format!("DELETE FROM {} WHERE name = $1", doctype.table_name());
                    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound(format!(
                            "{} {name} not found",
                            doctype.name
                        )));
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
                    let sql = format!(
                        "SELECT {} FROM {} WHERE name = $1",
                        select_columns(doctype),
                        doctype.table_name()
                    );
                    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?
                    else {
                        return Ok(None);
                    };
                    let mut doc = Document {
                        name: name.to_owned(),
                        values: document_values(&row, doctype)?,
                        ..Default::default()
                    };
                    for (fieldname, child) in children {
                        let sql = format!(
                            "SELECT {} FROM {} WHERE parent = $1 AND parenttype = $2 AND parentfield = $3 ORDER BY idx",
                            select_columns(child),
                            child.table_name()
                        );
                        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(name)
                            .bind(&doctype.name)
                            .bind(*fieldname)
                            .fetch_all(&self.pool)
                            .await?;
                        let mut out = Vec::with_capacity(rows.len());
                        for r in &rows {
                            let mut values = document_values(r, child)?;
                            values.insert("name".to_owned(), SqlValue::Text(r.try_get("name")?));
                            out.push(values);
                        }
                        doc.children.insert((*fieldname).to_owned(), out);
                    }
                    Ok(Some(doc))
                }
                async fn add_file(&self, f: &FileRecord) -> StoreResult<()> {
                    sqlx::query(
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
                    .bind(f.creation.as_micros())
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn file_by_url(
                    &self,
                    is_private: bool,
                    file_name: &str,
                ) -> StoreResult<Option<FileRecord>> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{FILE_SELECT}{}", "WHERE is_private = $1 AND file_name = $2")))
                    .bind(is_private)
                    .bind(file_name)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(file_from_row).transpose()
                }

                async fn file_by_id(&self, name: &str) -> StoreResult<Option<FileRecord>> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{FILE_SELECT}{}", "WHERE name = $1")))
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(file_from_row).transpose()
                }

                async fn list_files(&self, limit: u32, offset: u64) -> StoreResult<Vec<FileRecord>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{FILE_SELECT}{}", "ORDER BY creation DESC, name LIMIT $1 OFFSET $2")))
                    .bind(i64::from(limit))
                    .bind(to_i64(offset)?)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(file_from_row).collect()
                }

                async fn files_of(&self, doctype: &str, name: &str) -> StoreResult<Vec<FileRecord>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{FILE_SELECT}{}", "WHERE attached_to_doctype = $1 AND attached_to_name = $2 ORDER BY creation, name")))
                    .bind(doctype)
                    .bind(name)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(file_from_row).collect()
                }
            }

            /// One document and its child rows, inside the caller's transaction.
            async fn insert_one(
                conn: &mut $conn,
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
                let (cols, vals) = row_columns(doctype, standard, &doc.values, DIALECT);
                bind_all(
                    sqlx::query(sqlx::AssertSqlSafe(insert_sql(
                        &doctype.table_name(),
                        &cols,
                        DIALECT,
                    ))),
                    &vals,
                    &cols,
                )
                .execute(&mut *conn)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict(format!("{} {} already exists", doctype.name, doc.name))
                    }
                    other => other,
                })?;
                insert_children(conn, doctype, doc, children).await?;
                Ok(())
            }

            /// The child rows of a document, inside the caller's transaction.
            async fn insert_children(
                conn: &mut $conn,
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
                        let (cols, vals) = row_columns(child.doctype, standard, row, DIALECT);
                        bind_all(
                            sqlx::query(sqlx::AssertSqlSafe(insert_sql(
                                &child.doctype.table_name(),
                                &cols,
                                DIALECT,
                            ))),
                            &vals,
                            &cols,
                        )
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                Ok(())
            }
        }
    };
}
