//! The one schema both backends share (ARCHITECTURE.md item 8): ids as text, naive UTC
//! timestamps, booleans, JSON as text. Written to match `migrations/postgres` and
//! `migrations/sqlite`; the migration test checks every column here exists on both.

diesel::table! {
    organisations (id) {
        id -> Text,
        parent_id -> Nullable<Text>,
        name -> Text,
        kind -> Text,
        accepts_individuals -> Bool,
        path -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        city -> Nullable<Text>,
        code -> Nullable<Text>,
        member_seq -> BigInt,
    }
}

diesel::table! {
    officials (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        org_id -> Text,
        org_path -> Text,
        role -> Text,
        password_hash -> Text,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        password_change_required -> Bool,
    }
}

diesel::table! {
    workers (id) {
        id -> Text,
        openid -> Text,
        unionid -> Nullable<Text>,
        phone -> Nullable<Text>,
        phone_country_code -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        record_type -> Text,
        record_id -> Text,
        ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        topic -> Text,
        payload -> Text,
        created_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
        attempts -> Integer,
        not_before -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox_deliveries (event_id, consumer) {
        event_id -> Text,
        consumer -> Text,
        state -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        account_id -> Text,
        event_id -> Text,
        kind -> Text,
        title -> Text,
        body -> Text,
        record_type -> Text,
        record_id -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subscribe_templates (topic) {
        topic -> Text,
        template_id -> Text,
        page -> Text,
        data -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subscriptions (account_id, template_id) {
        account_id -> Text,
        template_id -> Text,
        remaining -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subscribe_sends (event_id, account_id) {
        event_id -> Text,
        account_id -> Text,
        template_id -> Text,
        outcome -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    notification_mutes (account_id, kind) {
        account_id -> Text,
        kind -> Text,
    }
}

diesel::table! {
    membership_applications (id) {
        id -> Text,
        account_id -> Text,
        org_id -> Text,
        org_path -> Text,
        status -> Text,
        real_name -> Nullable<Text>,
        id_number_kid -> Nullable<Text>,
        id_number_sealed -> Nullable<Text>,
        id_number_index -> Nullable<Text>,
        id_number_masked -> Nullable<Text>,
        birth_date -> Nullable<Date>,
        sex -> Nullable<Text>,
        phone -> Nullable<Text>,
        employer_name -> Nullable<Text>,
        credit_code -> Nullable<Text>,
        industry -> Nullable<Text>,
        employment_form -> Text,
        city -> Nullable<Text>,
        consent_version -> Text,
        consented_at -> Timestamp,
        submitted_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
        reason_code -> Nullable<Text>,
        reason -> Nullable<Text>,
        missing -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    membership_application_events (id) {
        id -> Text,
        application_id -> Text,
        action -> Text,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        reason_code -> Nullable<Text>,
        reason -> Nullable<Text>,
        missing -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    members (id) {
        id -> Text,
        account_id -> Text,
        application_id -> Text,
        member_number -> Text,
        org_id -> Text,
        org_path -> Text,
        status -> Text,
        real_name -> Nullable<Text>,
        id_number_kid -> Nullable<Text>,
        id_number_sealed -> Nullable<Text>,
        id_number_index -> Nullable<Text>,
        id_number_masked -> Nullable<Text>,
        phone -> Nullable<Text>,
        employment_form -> Text,
        joined_on -> Date,
        ended_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    membership_history (id) {
        id -> Text,
        member_id -> Text,
        event -> Text,
        org_id -> Text,
        from_org_id -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    membership_transfers (id) {
        id -> Text,
        member_id -> Text,
        from_org_id -> Text,
        to_org_id -> Text,
        to_org_path -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        requested_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
        decision_reason -> Nullable<Text>,
    }
}

diesel::table! {
    service_point_revision (id) {
        id -> Integer,
        value -> BigInt,
    }
}

diesel::table! {
    service_points (id) {
        id -> Text,
        org_id -> Text,
        org_path -> Text,
        external_id -> Nullable<Text>,
        name -> Text,
        kind -> Text,
        address -> Text,
        province -> Nullable<Text>,
        city -> Nullable<Text>,
        district -> Nullable<Text>,
        lat -> Double,
        lng -> Double,
        hours_text -> Text,
        hours_exceptions -> Text,
        amenities -> Text,
        phone -> Nullable<Text>,
        status -> Text,
        star_grade -> Nullable<SmallInt>,
        quality_flag -> Nullable<Text>,
        quality_note -> Nullable<Text>,
        rating_sum -> BigInt,
        rating_count -> Integer,
        revision -> BigInt,
        deleted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    service_point_visits (service_point_id, account_id, visited_on) {
        service_point_id -> Text,
        account_id -> Text,
        visited_on -> Date,
        visited_at -> Timestamp,
        lat -> Double,
        lng -> Double,
        distance_m -> Double,
    }
}

diesel::table! {
    service_point_reviews (id) {
        id -> Text,
        service_point_id -> Text,
        account_id -> Text,
        rating -> SmallInt,
        comment -> Nullable<Text>,
        moderation -> Text,
        trace_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mutual_aid_plans (id) {
        id -> Text,
        org_id -> Text,
        org_path -> Text,
        version -> Integer,
        rules -> Text,
        starts_on -> Date,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mutual_aid_plan_versions (plan_id, version) {
        plan_id -> Text,
        version -> Integer,
        rules -> Text,
        saved_by -> Text,
        saved_at -> Timestamp,
    }
}

diesel::table! {
    mutual_aid_enrollments (id) {
        id -> Text,
        plan_id -> Text,
        member_id -> Text,
        account_id -> Text,
        org_id -> Text,
        org_path -> Text,
        requested_on -> Date,
        payment_method -> Nullable<Text>,
        amount_fen -> Nullable<BigInt>,
        payment_reference -> Nullable<Text>,
        recorded_by -> Nullable<Text>,
        activated_on -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mutual_aid_claims (id) {
        id -> Text,
        plan_id -> Text,
        plan_version -> Integer,
        enrollment_id -> Text,
        member_id -> Text,
        account_id -> Text,
        org_id -> Text,
        org_path -> Text,
        status -> Text,
        claimed_fen -> Nullable<BigInt>,
        approved_fen -> Nullable<BigInt>,
        paid_fen -> Nullable<BigInt>,
        breakdown -> Nullable<Text>,
        first_reviewer -> Nullable<Text>,
        second_reviewer -> Nullable<Text>,
        return_note -> Nullable<Text>,
        rejection_code -> Nullable<Text>,
        rejection_text -> Nullable<Text>,
        bank_reference -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        payee_name -> Nullable<Text>,
        payee_bank -> Nullable<Text>,
        payee_account_kid -> Nullable<Text>,
        payee_account_sealed -> Nullable<Text>,
        payee_account_masked -> Nullable<Text>,
    }
}

diesel::table! {
    mutual_aid_claim_lines (id) {
        id -> Text,
        claim_id -> Text,
        position -> Integer,
        hospital -> Text,
        invoice_number -> Text,
        invoice_key -> Nullable<Text>,
        invoice_identity -> Text,
        invoice_day_key -> Nullable<Text>,
        treated_on -> Date,
        kind -> Text,
        total_fen -> BigInt,
        insurance_fen -> BigInt,
        out_of_pocket_fen -> BigInt,
        approved_fen -> Nullable<BigInt>,
        cut_reason -> Nullable<Text>,
    }
}

diesel::table! {
    mutual_aid_documents (id) {
        id -> Text,
        claim_id -> Text,
        kind -> Text,
        media_type -> Text,
        size_bytes -> BigInt,
        object_key -> Text,
        file_name -> Text,
        sha256 -> Text,
        uploaded_at -> Timestamp,
        removed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mutual_aid_claim_events (id) {
        id -> Text,
        claim_id -> Text,
        action -> Text,
        from_status -> Text,
        to_status -> Text,
        actor_id -> Text,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (account_id, route, key) {
        account_id -> Text,
        route -> Text,
        key -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    consultation_categories (code) {
        code -> Text,
        name -> Text,
        position -> Integer,
        active -> Bool,
        accept_minutes -> Integer,
        first_response_minutes -> Integer,
        resolution_minutes -> Integer,
        sla_clock -> Text,
        watched -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    lawyers (account_id) {
        account_id -> Text,
        org_id -> Text,
        org_path -> Text,
        name -> Text,
        law_firm -> Text,
        licence_number -> Text,
        years_in_practice -> Integer,
        bio -> Text,
        on_duty -> Bool,
        rating_sum -> BigInt,
        rating_count -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    lawyer_specialties (account_id, category_code) {
        account_id -> Text,
        category_code -> Text,
    }
}

diesel::table! {
    consultations (id) {
        id -> Text,
        account_id -> Text,
        org_id -> Text,
        org_path -> Text,
        category_code -> Text,
        title -> Text,
        employer -> Nullable<Text>,
        status -> Text,
        chosen_lawyer_id -> Nullable<Text>,
        reserved_until -> Nullable<Timestamp>,
        lawyer_id -> Nullable<Text>,
        first_response_due -> Nullable<Timestamp>,
        first_response_at -> Nullable<Timestamp>,
        resolution_due -> Nullable<Timestamp>,
        resolution_left_seconds -> Nullable<BigInt>,
        resolved_at -> Nullable<Timestamp>,
        rating_stars -> Nullable<Integer>,
        rating_comment -> Nullable<Text>,
        rated_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        employer_credit_code -> Nullable<Text>,
        employer_key -> Nullable<Text>,
    }
}

diesel::table! {
    consultation_read_marks (consultation_id, account_id) {
        consultation_id -> Text,
        account_id -> Text,
        reader -> Text,
        message_id -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    early_warning_rule (id) {
        id -> Integer,
        threshold -> Integer,
        window_days -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    employer_alerts (id) {
        id -> Text,
        employer_key -> Text,
        employer -> Text,
        org_id -> Text,
        org_path -> Text,
        consultations -> Integer,
        threshold -> Integer,
        window_days -> Integer,
        first_at -> Timestamp,
        last_at -> Timestamp,
        status -> Text,
        acknowledged_by -> Nullable<Text>,
        acknowledged_at -> Nullable<Timestamp>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    consultation_messages (id) {
        id -> Text,
        consultation_id -> Text,
        author -> Text,
        author_id -> Nullable<Text>,
        body -> Text,
        held -> Bool,
        trace_id -> Nullable<Text>,
        created_at -> Timestamp,
        attachment_key -> Nullable<Text>,
        attachment_type -> Nullable<Text>,
        attachment_bytes -> Nullable<BigInt>,
        attachment_seconds -> Nullable<Integer>,
    }
}

diesel::table! {
    legal_aid_applications (id) {
        id -> Text,
        account_id -> Text,
        org_id -> Text,
        org_path -> Text,
        consultation_id -> Nullable<Text>,
        applicant -> Text,
        phone -> Text,
        counterparty -> Text,
        summary -> Text,
        amount_fen -> Nullable<BigInt>,
        aid -> Text,
        held -> Bool,
        status -> Text,
        lawyer_id -> Nullable<Text>,
        rejection_reason -> Nullable<Text>,
        outcome -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mailbox_letters (id) {
        id -> Text,
        account_id -> Text,
        org_id -> Text,
        org_path -> Text,
        name -> Text,
        subject -> Text,
        body -> Text,
        public -> Bool,
        anonymous -> Bool,
        held -> Bool,
        status -> Text,
        reply -> Nullable<Text>,
        replied_by -> Nullable<Text>,
        replied_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

// One row (`id` 1) that readiness rewrites after a write found the disk full.
diesel::table! {
    storage_probe (id) {
        id -> Integer,
        writes -> BigInt,
    }
}

diesel::joinable!(officials -> organisations (org_id));
diesel::joinable!(membership_applications -> organisations (org_id));
diesel::joinable!(members -> organisations (org_id));
diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    officials,
    workers,
    audit_log,
    outbox,
    outbox_deliveries,
    notifications,
    subscribe_templates,
    subscriptions,
    subscribe_sends,
    notification_mutes,
    membership_applications,
    membership_application_events,
    members,
    membership_history,
    membership_transfers,
    service_point_revision,
    service_points,
    service_point_visits,
    service_point_reviews,
    mutual_aid_plans,
    mutual_aid_plan_versions,
    mutual_aid_enrollments,
    mutual_aid_claims,
    mutual_aid_claim_lines,
    mutual_aid_documents,
    mutual_aid_claim_events,
    idempotency_keys,
    consultation_categories,
    lawyers,
    lawyer_specialties,
    consultations,
    consultation_messages,
    consultation_read_marks,
    early_warning_rule,
    employer_alerts,
    legal_aid_applications,
    mailbox_letters,
);
diesel::joinable!(outbox_deliveries -> outbox (event_id));
diesel::joinable!(service_point_visits -> service_points (service_point_id));
diesel::joinable!(service_point_reviews -> service_points (service_point_id));
diesel::joinable!(mutual_aid_enrollments -> mutual_aid_plans (plan_id));
diesel::joinable!(mutual_aid_claim_lines -> mutual_aid_claims (claim_id));
diesel::joinable!(mutual_aid_documents -> mutual_aid_claims (claim_id));
diesel::joinable!(mutual_aid_claim_events -> mutual_aid_claims (claim_id));
diesel::joinable!(lawyers -> officials (account_id));
diesel::joinable!(lawyer_specialties -> lawyers (account_id));
diesel::joinable!(consultation_messages -> consultations (consultation_id));
