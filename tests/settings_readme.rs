//! The README's configuration tables against the variables the code reads
//! (`lambda_lens::settings::variables`): every variable read is documented, with its default, in
//! the right table, and every documented variable is read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lambda_lens::settings::{variables, Fallback, Origin, Variable};

/// One table row: the variables named in its first cell and its second cell.
struct Row {
    names: Vec<String>,
    second_cell: String,
}

/// The tables of the README's Configuration section, in order.
fn configuration_tables() -> Vec<Vec<Row>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let section = readme
        .split("\n## ")
        .find(|section| section.starts_with("Configuration\n"))
        .expect("the README has a Configuration section");
    let mut tables: Vec<Vec<Row>> = Vec::new();
    let mut in_table = false;
    for line in section.lines() {
        let Some(row) = line.trim().strip_prefix('|') else {
            in_table = false;
            continue;
        };
        if !in_table {
            // The header row starts a table.
            tables.push(Vec::new());
            in_table = true;
            continue;
        }
        if row.starts_with("---") {
            continue;
        }
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let row = Row {
            names: variable_names(cells[0]),
            second_cell: cells.get(1).copied().unwrap_or_default().to_owned(),
        };
        if let Some(table) = tables.last_mut() {
            table.push(row);
        }
    }
    tables
}

/// The variable names written in backticks in `cell` (`NAME` or `NAME=value`).
fn variable_names(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(|quoted| quoted.split('=').next().unwrap_or_default().to_owned())
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// Each documented variable with the second cell of its row.
fn documented(table: &[Row]) -> BTreeMap<String, String> {
    table
        .iter()
        .flat_map(|row| {
            row.names
                .iter()
                .map(|name| (name.clone(), row.second_cell.clone()))
        })
        .collect()
}

fn read_by_code(origin: Origin) -> BTreeMap<&'static str, &'static Variable> {
    variables()
        .filter(|variable| variable.origin == origin)
        .map(|variable| (variable.name, variable))
        .collect()
}

#[test]
fn the_configuration_table_documents_every_setting_and_its_default() {
    let tables = configuration_tables();
    assert_eq!(tables.len(), 2, "a settings table and a platform table");
    let documented = documented(&tables[0]);
    let read = read_by_code(Origin::User);
    for (name, variable) in &read {
        let default = documented
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is read but not in the README's table"));
        match variable.fallback {
            Fallback::None => assert_eq!(default, "—", "{name}"),
            Fallback::Value(value) => {
                assert!(default.contains(&format!("`{value}`")), "{name}: {default}")
            }
            Fallback::Described(text) => assert!(default.contains(text), "{name}: {default}"),
        }
    }
    for name in documented.keys() {
        assert!(
            read.contains_key(name.as_str()),
            "{name} is in the README's table but lambda-lens does not read it"
        );
    }
}

#[test]
fn the_platform_table_lists_what_lambda_sets() {
    let tables = configuration_tables();
    let documented = documented(&tables[1]);
    let read = read_by_code(Origin::Platform);
    for name in read.keys() {
        assert!(
            documented.contains_key(*name),
            "{name} is read but not in the README's platform table"
        );
    }
    for name in documented.keys() {
        assert!(
            read.contains_key(name.as_str()),
            "{name} is in the README's platform table but lambda-lens does not read it"
        );
    }
}
