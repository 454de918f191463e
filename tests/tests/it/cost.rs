//! Cost targets of the DynamoDB design, checked on whichever backend runs the suite.

use scim_tests::TestServer;
use scim_tests::cost::{Row, measure};

fn row<'a>(rows: &'a [Row], operation: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.operation.starts_with(operation))
        .expect(operation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_costs_what_the_table_design_promises() {
    let group_size = match scim_tests::backend() {
        scim_tests::Backend::Embedded => 5_000,
        scim_tests::Backend::DynamoDb => 300,
    };
    let srv = TestServer::start().await;
    let rows = measure(&srv, group_size, &|_| {}).await;

    let get = &row(&rows, "GetUser").usage;
    assert_eq!(
        (get.calls, get.read_units),
        (1, 1.0),
        "GetUser is one read of at most 4 KB"
    );
    // A key lookup answers as a GET does (groups included): the marker, the user, its groups.
    let filter = &row(&rows, "Filter userName eq").usage;
    assert!(
        filter.calls <= 3 && filter.read_units <= 3.0,
        "filter userName eq: {filter:?}"
    );
    let create = &row(&rows, "CreateUser").usage;
    assert_eq!(
        (create.calls, create.transactions),
        (1, 1),
        "CreateUser is one transaction"
    );
    // Each added member is a check that it exists and its edge; the group's version and the
    // events join the edges' transaction when they fit, else follow them in one more.
    for k in [1_usize, 100, 1000] {
        let add = &row(&rows, &format!("Add {k} member")).usage;
        let edge_transactions = (2 * k).div_ceil(100) as u64;
        let bound = if 2 * k + 2 <= 100 {
            1
        } else {
            edge_transactions + 1
        };
        assert_eq!(
            (add.transactions, add.single_writes),
            (bound, 0),
            "adding {k} members: {add:?}"
        );
    }
    let list = &row(&rows, "List a page of 100").usage;
    assert_eq!(
        (list.queries, list.gets, list.read_units),
        (2, 0, 5.5),
        "a list page is one Query of the listing and one Query of the counter shards"
    );
    for r in &rows {
        assert!(r.usage.calls > 0 && r.status < 300, "{}", r.operation);
    }
}
