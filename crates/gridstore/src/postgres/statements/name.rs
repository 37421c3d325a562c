//! Value-free statement names for tracing spans.

/// A short, value-free name of a statement for spans: its verb and the table it acts on
/// (`insert positions`, `select gs_kv`, `update ...`), or its first word. A statement with
/// data-modifying `WITH` parts is named by every table it writes, in order (`with update
/// positions, insert position_events, audit_events`). Parameters are bound (`$1`), so the
/// text holds no client value; the name keeps even less of it.
pub fn statement_name(sql: &str) -> String {
    let mut words = words(sql);
    let Some(first) = words.next() else {
        return String::new();
    };
    if first.eq_ignore_ascii_case("with") {
        return with_name(words);
    }
    let verb = first.to_ascii_lowercase();
    let table = match verb.as_str() {
        "insert" => table_after(&mut words, "into"),
        "delete" | "select" => table_after(&mut words, "from"),
        "update" => words.next().map(unquoted),
        _ => None,
    };
    match table {
        Some(table) => format!("{verb} {table}"),
        None => verb,
    }
}

/// The words of `sql`, split on white space, parentheses, commas and semicolons.
fn words(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        .filter(|w| !w.is_empty())
}

/// The word after the next `keyword`, unquoted.
fn table_after<'a>(words: &mut impl Iterator<Item = &'a str>, keyword: &str) -> Option<&'a str> {
    words.find(|w| w.eq_ignore_ascii_case(keyword))?;
    words.next().map(unquoted)
}

fn unquoted(table: &str) -> &str {
    table.trim_matches('"')
}

/// `with`, then each table an `insert into`, `update` or `delete from` writes, in order, the
/// verb written once for a run of the same verb.
fn with_name<'a>(mut words: impl Iterator<Item = &'a str>) -> String {
    let mut name = String::from("with");
    let mut last_verb = "";
    while let Some(word) = words.next() {
        let (verb, table) = if word.eq_ignore_ascii_case("insert") {
            ("insert", table_after(&mut words, "into"))
        } else if word.eq_ignore_ascii_case("delete") {
            ("delete", table_after(&mut words, "from"))
        } else if word.eq_ignore_ascii_case("update") {
            // `on conflict ... do update set` writes the insert's table, named already.
            let table = words.next().filter(|t| !t.eq_ignore_ascii_case("set"));
            ("update", table.map(unquoted))
        } else {
            continue;
        };
        let Some(table) = table else { continue };
        name.push_str(if last_verb.is_empty() { " " } else { ", " });
        if verb != last_verb {
            name.push_str(verb);
            name.push(' ');
        }
        name.push_str(table);
        last_verb = verb;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::statement_name;

    #[test]
    fn a_statement_is_named_by_its_verb_and_table_without_values() {
        assert_eq!(
            statement_name("insert into escrow_positions (id, amount) values ($1, $2)"),
            "insert escrow_positions"
        );
        assert_eq!(
            statement_name("SELECT a, b\n  FROM gs_kv WHERE key = $1"),
            "select gs_kv"
        );
        assert_eq!(
            statement_name("update t set x = 'secret' where id = $1"),
            "update t"
        );
        assert_eq!(
            statement_name("delete from \"q\" where id = $1"),
            "delete q"
        );
        assert_eq!(statement_name("select 1"), "select");
        assert_eq!(
            statement_name("with x as (select 1) select * from x"),
            "with"
        );
    }

    #[test]
    fn a_statement_with_data_modifying_parts_is_named_by_the_tables_it_writes() {
        let sql = "with updated as (update positions set v = $1 where id = $2 returning 1),\n\
                   event as (insert into position_events (id) values ($3)),\n\
                   outbox as (insert into gs_events (stream) select * from unnest($4::text[]))\n\
                   insert into audit_events (id) values ($5)\n\
                   on conflict (id) do update set id = excluded.id";
        assert_eq!(
            statement_name(sql),
            "with update positions, insert position_events, gs_events, audit_events"
        );
        assert_eq!(
            statement_name("WITH gone AS (DELETE FROM kv WHERE k = $1) SELECT 1"),
            "with delete kv"
        );
    }
}
