//! Organisations (unique ids and names, rename) and members (unique per organisation, roles).

use gateway_core::routing::{OrgRoutingPreferences, Priority};
use gateway_store::model::member::{Member, Role};
use gateway_store::model::org::{AuditRetentionDays, Organization, Plan, PlanLimits};
use gateway_store::model::spend::{SpendAlert, SpendLimits};
use gateway_store::{Store, StoreError};

use super::{T0, stored_org};

fn member(org: &Organization, user: &str, role: Role) -> Member {
    Member {
        org_id: org.id.clone(),
        user_id: user.to_owned(),
        email: format!("{user}@example.com"),
        role,
        added_at: T0,
    }
}

pub async fn organisation_ids_and_names_are_unique<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Free).await;

    let mut same_name = Organization::new(&org.name, Plan::Pro, T0);
    same_name.name = org.name.clone();
    let err = store.create_org(&same_name).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");

    let mut same_id = org.clone();
    same_id.name = format!("{}-other", org.name);
    assert!(store.create_org(&same_id).await.unwrap_err().is_conflict());
    // The failed create left nothing behind: the other name is still free.
    assert!(
        store
            .find_org_by_name(&same_id.name)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let enterprise = Organization::new("no-limits", Plan::Enterprise, T0);
    assert!(matches!(
        store.create_org(&enterprise).await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn organisations_are_read_by_id_and_name_and_updated<S: Store>(store: S) {
    let mut org = stored_org(&store, Plan::Starter).await;
    assert_eq!(store.get_org(&org.id).await.unwrap(), org);
    assert_eq!(store.find_org_by_name(&org.name).await.unwrap(), org);
    assert!(
        store
            .get_org("org_missing")
            .await
            .unwrap_err()
            .is_not_found()
    );

    let old_name = org.name.clone();
    org.name = format!("{old_name}-renamed");
    org.plan = Plan::Enterprise;
    org.custom_limits = Some(PlanLimits {
        requests_per_minute: 5_000,
        tokens_per_minute: 5_000_000,
        requests_per_day: 2_000_000,
    });
    org.time_zone = "Europe/Paris".to_owned();
    org.audit_retention = AuditRetentionDays::new(365).unwrap();
    store.update_org(&org).await.unwrap();
    assert_eq!(store.get_org(&org.id).await.unwrap(), org);
    assert_eq!(store.find_org_by_name(&org.name).await.unwrap(), org);
    assert!(
        store
            .find_org_by_name(&old_name)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // The old name is free again; a taken name is refused and changes nothing.
    let other = stored_org(&store, Plan::Free).await;
    let mut reuse = other.clone();
    reuse.name = old_name.clone();
    store.update_org(&reuse).await.unwrap();
    let mut clash = reuse.clone();
    clash.name = org.name.clone();
    assert!(store.update_org(&clash).await.unwrap_err().is_conflict());
    assert_eq!(store.get_org(&other.id).await.unwrap().name, old_name);

    let ghost = Organization::new("ghost", Plan::Free, T0);
    assert!(store.update_org(&ghost).await.unwrap_err().is_not_found());
}

pub async fn organisations_are_listed_with_their_spend_settings<S: Store>(store: S) {
    let mut org = stored_org(&store, Plan::Pro).await;
    let other = stored_org(&store, Plan::Free).await;
    org.spend.limits = SpendLimits {
        daily_usd: Some(12.5),
        weekly_usd: None,
        monthly_usd: Some(300.0),
        per_request_usd: Some(0.25),
    };
    org.spend.alerts = Some(SpendAlert {
        threshold_percent: 80,
        webhook_url: "https://hooks.example.com/spend".to_owned(),
        secret: "whsec_0123456789abcdef".to_owned(),
    });
    store.update_org(&org).await.unwrap();
    let mut listed = store.list_orgs().await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![org.clone(), other];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, expected);

    org.spend.limits.daily_usd = Some(-5.0);
    assert!(matches!(
        store.update_org(&org).await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn routing_preferences_round_trip_and_invalid_ones_are_refused<S: Store>(store: S) {
    let mut org = stored_org(&store, Plan::Pro).await;
    assert_eq!(store.get_org(&org.id).await.unwrap().routing, None);
    let preferences = OrgRoutingPreferences {
        default_priority: Priority::Quality,
        quality_threshold: 0.8,
        max_latency_ms: Some(3_000),
        allowed_providers: vec!["openai".into(), "anthropic".into()],
        blocked_models: vec!["openai/gpt-4o".into()],
        fallback_enabled: false,
        fallback_chain: vec!["anthropic/claude-3-haiku".into()],
        default_model: Some("openai/gpt-4o-mini".into()),
        ..OrgRoutingPreferences::default()
    };
    org.routing = Some(preferences.clone());
    store.update_org(&org).await.unwrap();
    assert_eq!(store.get_org(&org.id).await.unwrap(), org);

    let mut invalid = org.clone();
    invalid.routing = Some(OrgRoutingPreferences {
        quality_threshold: -0.1,
        ..preferences
    });
    assert!(matches!(
        store.update_org(&invalid).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.get_org(&org.id).await.unwrap(), org);
}

pub async fn members_are_unique_per_organisation_and_change_role<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Pro).await;
    let other = stored_org(&store, Plan::Pro).await;
    store
        .add_member(&member(&org, "bob", Role::Developer))
        .await
        .unwrap();
    store
        .add_member(&member(&org, "alice", Role::Owner))
        .await
        .unwrap();
    // The same user may belong to another organisation.
    store
        .add_member(&member(&other, "bob", Role::Viewer))
        .await
        .unwrap();

    let err = store
        .add_member(&member(&org, "bob", Role::Admin))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let ghost = Organization::new("ghost", Plan::Free, T0);
    let err = store
        .add_member(&member(&ghost, "bob", Role::Admin))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    let listed = store.list_members(&org.id).await.unwrap();
    let users: Vec<_> = listed
        .iter()
        .map(|m| (m.user_id.as_str(), m.role))
        .collect();
    assert_eq!(users, [("alice", Role::Owner), ("bob", Role::Developer)]);
    assert_eq!(listed[0], member(&org, "alice", Role::Owner));

    store
        .set_member_role(&org.id, "bob", Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        store.get_member(&org.id, "bob").await.unwrap().role,
        Role::Admin
    );
    assert_eq!(
        store.get_member(&other.id, "bob").await.unwrap().role,
        Role::Viewer
    );
    assert!(
        store
            .set_member_role(&org.id, "carol", Role::Admin)
            .await
            .unwrap_err()
            .is_not_found()
    );

    store.remove_member(&org.id, "bob").await.unwrap();
    assert!(
        store
            .get_member(&org.id, "bob")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .remove_member(&org.id, "bob")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(store.list_members(&org.id).await.unwrap().len(), 1);
    assert!(store.list_members("org_missing").await.unwrap().is_empty());
}

pub async fn every_organisation_is_listed_once<S: Store>(store: S) {
    assert!(store.list_orgs().await.unwrap().is_empty());
    let mut expected = vec![
        stored_org(&store, Plan::Pro).await,
        stored_org(&store, Plan::Free).await,
        stored_org(&store, Plan::Pro).await,
    ];
    let mut listed = store.list_orgs().await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, expected);
}
