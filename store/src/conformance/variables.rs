//! Checks of the reads by event id and of the variables list.

use super::*;

/// The recorded values of the newest access of each key (variable, environment, trace, event
/// id); unknown ids are left out.
pub async fn recorded_values_by_key(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let mut accesses = vec![
        access(trace, "account:alice.balance", 1, "bank"),
        access(trace, "account:bob.balance", 2, "bank"),
        access(trace, "account:bob.balance", 3, "ledger"),
    ];
    accesses[1].old_value = None;
    store.insert_accesses(&accesses).await.expect("insert");
    let mut reanalysed = accesses[0].clone();
    reanalysed.value = "60".into();
    store
        .insert_accesses(&[reanalysed.clone()])
        .await
        .expect("again");
    let unknown = AccessKey {
        event_id: Uuid::new_v4(),
        ..AccessKey::of(&accesses[2])
    };
    let wanted: Vec<AccessKey> = [&accesses[0], &accesses[1]]
        .into_iter()
        .map(AccessKey::of)
        .chain([unknown])
        .collect();
    let mut read = store.recorded_values(&wanted).await.expect("read");
    read.sort_by_key(|v| v.event_id);
    let mut expected: Vec<RecordedValues> = [&reanalysed, &accesses[1]]
        .into_iter()
        .map(|a| RecordedValues {
            event_id: a.event_id,
            value: a.value.clone(),
            old_value: a.old_value.clone(),
        })
        .collect();
    expected.sort_by_key(|v| v.event_id);
    assert_eq!(read, expected);
    assert!(store.recorded_values(&[]).await.expect("no ids").is_empty());
}

/// Variables starting with a prefix (as text: `_` and `%` are no wildcards), sorted, limited,
/// each with its distinct access count; confined to environments, only those accessed there.
pub async fn variables_by_prefix(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let accesses = vec![
        access(trace, "account:bob.balance", 1, "bank"),
        access(trace, "account:alice.balance", 2, "bank"),
        access(trace, "account:alice.balance", 3, "bank"),
        access(trace, "account_x", 4, "bank"),
        access(trace, "cache:hits", 5, "bank"),
    ];
    store.insert_accesses(&accesses).await.expect("insert");
    store.insert_accesses(&accesses).await.expect("replay");
    let names = |list: Vec<VariableCount>| -> Vec<(String, u64)> {
        list.into_iter().map(|v| (v.name, v.access_count)).collect()
    };
    let read = |prefix: &'static str, limit: u32| async move {
        names(
            store
                .variables(prefix, &[], limit)
                .await
                .expect("variables"),
        )
    };
    let pair = |name: &str, count: u64| (name.to_string(), count);
    assert_eq!(
        read("account:", 10).await,
        vec![
            pair("account:alice.balance", 2),
            pair("account:bob.balance", 1)
        ]
    );
    assert_eq!(read("account_", 10).await, vec![pair("account_x", 1)]);
    assert_eq!(
        read("account", 1).await,
        vec![pair("account:alice.balance", 2)]
    );
    assert_eq!(read("", 10).await.len(), 4);
    assert!(read("Account", 10).await.is_empty(), "case-sensitive");
    assert!(read("%", 10).await.is_empty(), "no wildcards");

    // Confined to environments: only variables accessed there, counted there.
    let (blue, green) = ("vars-blue".to_string(), "vars-green".to_string());
    let in_env = |variable: &str, offset, environment: &str| {
        let mut a = access(trace, variable, offset, "bank");
        a.environment = environment.into();
        a
    };
    store
        .insert_accesses(&[
            in_env("conf:shared", 10, &blue),
            in_env("conf:shared", 11, &green),
            in_env("conf:blue", 12, &blue),
            in_env("conf:green", 13, &green),
        ])
        .await
        .expect("insert confined");
    let within = |environments: Vec<String>| async move {
        names(
            store
                .variables("conf:", &environments, 10)
                .await
                .expect("variables"),
        )
    };
    assert_eq!(
        within(vec![blue.clone()]).await,
        vec![pair("conf:blue", 1), pair("conf:shared", 1)]
    );
    assert_eq!(
        within(vec![blue, green]).await,
        vec![
            pair("conf:blue", 1),
            pair("conf:green", 1),
            pair("conf:shared", 2)
        ]
    );
}
