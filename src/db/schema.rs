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
    }
}

diesel::joinable!(locals -> elections (election_id));
diesel::joinable!(tokens -> members (member));
diesel::allow_tables_to_appear_in_same_query!(elections, locals, members, tokens);
diesel::allow_columns_to_appear_in_same_group_by_clause!(members::local_code, tokens::status);
