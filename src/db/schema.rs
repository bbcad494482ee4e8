//! The schema, kept by hand in the portable subset both backends share (see migrations/README.md).

diesel::table! {
    /// One row per election; `definition` is the validated definition as JSON.
    elections (id) {
        id -> Text,
        title -> Text,
        definition -> Text,
        state -> Text,
        created_at -> Timestamp,
        lock_version -> BigInt,
        origin -> Text,
        log_size -> BigInt,
        public_url -> Text,
    }
}

diesel::table! {
    /// Failed logins per client address in the current window (shared by all instances).
    login_throttle (address) {
        address -> Text,
        failures -> Integer,
        window_start -> Timestamp,
    }
}

diesel::table! {
    /// The locals of an election, in the order of the definition file.
    locals (election_id, code) {
        election_id -> Text,
        code -> Text,
        name -> Text,
        delegates -> Integer,
        position -> Integer,
    }
}

diesel::table! {
    /// The roster: one row per eligible member.
    members (id) {
        id -> Text,
        election_id -> Text,
        member_id -> Text,
        local_code -> Text,
        name -> Text,
        email -> Text,
        language -> Nullable<Text>,
        address -> Nullable<Text>,
    }
}

diesel::table! {
    /// Ballot tokens, stored only as SHA-256 digests.
    tokens (hash) {
        hash -> Binary,
        election_id -> Text,
        member -> Text,
        status -> Text,
        issued_at -> Timestamp,
        challenges -> Integer,
    }
}

diesel::table! {
    /// Log entries, exact bytes, in order.
    log_entries (election_id, idx) {
        election_id -> Text,
        idx -> BigInt,
        kind -> Text,
        body -> Binary,
        receipt -> Nullable<Text>,
        tracker -> Nullable<Text>,
    }
}

diesel::table! {
    /// Perfect Merkle subtrees of each election's log (level 0: leaf hashes).
    log_nodes (election_id, level, idx) {
        election_id -> Text,
        level -> Integer,
        idx -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    /// Witnesses' cosignatures of checkpoints: one line per witness per size.
    cosignatures (election_id, size, witness) {
        election_id -> Text,
        size -> BigInt,
        witness -> Text,
        line -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Every signed checkpoint, one per append batch.
    checkpoints (election_id, size) {
        election_id -> Text,
        size -> BigInt,
        root -> Binary,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Officials' accounts.
    accounts (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamp,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Browser sessions (SHA-256 of the cookie's secret).
    sessions (hash) {
        hash -> Binary,
        account_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_seen_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// API tokens for scripts (SHA-256 of the token).
    api_tokens (hash) {
        hash -> Binary,
        account_id -> Text,
        name -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(api_tokens -> accounts (account_id));
diesel::joinable!(locals -> elections (election_id));
diesel::joinable!(tokens -> members (member));
diesel::table! {
    /// The accounts audit trail (never a password or a token).
    account_events (id) {
        id -> Text,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        subject -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    elections,
    locals,
    members,
    tokens,
    log_entries,
    log_nodes,
    checkpoints,
    cosignatures,
    accounts,
    sessions,
    api_tokens
);
diesel::allow_columns_to_appear_in_same_group_by_clause!(members::local_code, tokens::status);

diesel::table! {
    /// Key-ceremony secret shares, each age-encrypted to its recipient teller.
    teller_shares (election_id, from_teller, to_teller) {
        election_id -> Text,
        from_teller -> Integer,
        to_teller -> Integer,
        sealed -> Binary,
        signature -> Text,
    }
}

diesel::table! {
    /// Teller invitation codes, stored only as SHA-256.
    teller_invitations (election_id, teller) {
        election_id -> Text,
        teller -> Integer,
        code_hash -> Binary,
    }
}

diesel::table! {
    /// Actions waiting for a second admin's approval (the two-person rule).
    pending_actions (id) {
        id -> Text,
        election_id -> Text,
        action -> Text,
        member -> Nullable<Text>,
        requested_by -> Text,
        requested_at -> Timestamp,
        approved_by -> Nullable<Text>,
        approved_at -> Nullable<Timestamp>,
        account -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        token_name -> Nullable<Text>,
        members -> Nullable<Text>,
    }
}

diesel::table! {
    /// The outbox: one row per message to a member, with its state (never its token).
    outbox (id) {
        id -> Text,
        election_id -> Text,
        member -> Text,
        kind -> Text,
        round -> Integer,
        state -> Text,
        attempts -> Integer,
        not_before -> Timestamp,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        queued_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(outbox -> members (member));
diesel::allow_tables_to_appear_in_same_query!(outbox, members);
diesel::allow_tables_to_appear_in_same_query!(outbox, tokens);

diesel::table! {
    /// The pace of `mail_per_minute` shared by every instance sending through one SMTP server
    /// (named as shown, never with its password): when its next message may go, in
    /// microseconds since the Unix epoch.
    mail_pace (server) {
        server -> Text,
        next_at -> BigInt,
    }
}
