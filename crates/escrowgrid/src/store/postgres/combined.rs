//! One statement made of several: data-modifying `WITH` parts and a final statement, with the
//! placeholders of each renumbered after those of the ones before it.
//!
//! PostgreSQL answers every `Sync` of the extended protocol with a flush, and tokio-postgres
//! ends every statement with one: five pipelined inserts come back as five sends, each a
//! wake-up of the client's connection task. As one statement they come back as one. The
//! parts of a `WITH` run on one snapshot, so only writes that do not read each other's rows
//! belong in one (foreign keys are checked at the end of the statement, after every part).

/// `with <name> as (<sql>), … <last>`: `parts` in order, then `last`, each part's `$n`
/// shifted by the number of parameters of the parts before it. The parameters of the result
/// are those of `parts` then `last`, in order (see the tests for an example).
pub(super) fn combined(parts: &[(&str, &str)], last: &str) -> String {
    let mut sql = String::from("with ");
    let mut offset = 0;
    for (i, (name, part)) in parts.iter().enumerate() {
        if i > 0 {
            sql.push_str(",\n");
        }
        sql.push_str(name);
        sql.push_str(" as (");
        offset = push_shifted(&mut sql, part, offset);
        sql.push(')');
    }
    sql.push('\n');
    push_shifted(&mut sql, last, offset);
    sql
}

/// Appends `part` with every `$n` written as `$(n + offset)`; returns `offset` plus the
/// highest `n` of `part`.
fn push_shifted(sql: &mut String, part: &str, offset: usize) -> usize {
    let mut highest = 0;
    let mut rest = part;
    while let Some(dollar) = rest.find('$') {
        sql.push_str(&rest[..=dollar]);
        rest = &rest[dollar + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Ok(n) = rest[..digits].parse::<usize>() {
            highest = highest.max(n);
            sql.push_str(&(n + offset).to_string());
        }
        rest = &rest[digits..];
    }
    sql.push_str(rest);
    offset + highest
}

#[cfg(test)]
mod tests {
    use super::combined;

    #[test]
    fn placeholders_are_renumbered_after_the_parts_before_them() {
        let sql = combined(
            &[
                ("a", "insert into a values ($1, $2)"),
                ("b", "insert into b values ($2, $1, $3::text)"),
            ],
            "insert into c values ($1, coalesce($2::text, ''))",
        );
        assert_eq!(
            sql,
            "with a as (insert into a values ($1, $2)),\n\
             b as (insert into b values ($4, $3, $5::text))\n\
             insert into c values ($6, coalesce($7::text, ''))"
        );
    }

    #[test]
    fn a_final_statement_without_parameters_is_kept_as_it_is() {
        let sql = combined(
            &[("updated", "update t set v = $1 returning 1")],
            "select 1 / count(*) as updated from updated",
        );
        assert_eq!(
            sql,
            "with updated as (update t set v = $1 returning 1)\n\
             select 1 / count(*) as updated from updated"
        );
    }
}
