//! Roster import: all or nothing, every bad line named, re-import replaces.

use crate::both_backends;
use crate::helpers::*;

both_backends! {
    fn a_roster_is_imported_and_counted_per_local(db: &TestDb) {
        let id = create_election(db);
        let path = db.path("roster.csv");
        std::fs::write(
            &path,
            "\u{feff}member_id,local,name,email\r\nM1,600,\"Chen, Wei\",w@example.org\r\nM2,600,\"Sam \"\"Sparks\"\" Lee\",\r\nM3,871,Priya,priya@example.org\r\n",
        )
        .unwrap();
        let out = sv(db, &["roster", "import", "--election", &id, path.to_str().unwrap()]).ok();
        assert!(out.contains("3 members (3 added, 0 updated, 0 removed)"), "{out}");
        let shown = show(db, &id);
        assert_eq!(shown["locals"]["600"]["eligible"], 2);
        assert_eq!(shown["locals"]["700"]["eligible"], 0);
        assert_eq!(shown["locals"]["871"]["eligible"], 1);
    }
}

both_backends! {
    fn a_roster_with_bad_lines_names_each_and_changes_nothing(db: &TestDb) {
        let id = create_election(db);
        let good = write_roster(db, "good.csv", &[("M1", "600"), ("M2", "700")]);
        sv(db, &["roster", "import", "--election", &id, &good]).ok();
        let before = show(db, &id);

        let path = db.path("bad.csv");
        std::fs::write(
            &path,
            "member_id,local,name,email\nM1,600,A,a@example.org\nM9,600,B,\nM9,700,C,\n,700,D,\nM5,999,E,\nM6,600,F,not-an-address\nM7,600\n",
        )
        .unwrap();
        let err = sv(db, &["roster", "import", "--election", &id, path.to_str().unwrap()]).fails();
        for expected in [
            "5 bad line(s)",
            "line 4: member_id `M9` is a duplicate of line 3",
            "line 5: member_id is empty",
            "line 6: local `999` is not one of the election's locals",
            "line 7: email `not-an-address` is not a valid address",
            "line 8: has 2 field(s), the header has 4",
        ] {
            assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
        }
        assert_eq!(show(db, &id), before, "a rejected file changed the roster");
    }
}

both_backends! {
    fn reimporting_replaces_the_roster(db: &TestDb) {
        let id = create_election(db);
        let first = write_roster(db, "one.csv", &[("M1", "600"), ("M2", "600"), ("M3", "700")]);
        sv(db, &["roster", "import", "--election", &id, &first]).ok();
        // M1 stays, M2 moves to 871, M3 leaves, M4 arrives.
        let second = write_roster(db, "two.csv", &[("M1", "600"), ("M2", "871"), ("M4", "700")]);
        let out = sv(db, &["roster", "import", "--election", &id, &second]).ok();
        assert!(out.contains("3 members (1 added, 1 updated, 1 removed)"), "{out}");
        let shown = show(db, &id);
        assert_eq!(shown["locals"]["600"]["eligible"], 1);
        assert_eq!(shown["locals"]["700"]["eligible"], 1);
        assert_eq!(shown["locals"]["871"]["eligible"], 1);
    }
}

both_backends! {
    fn a_missing_file_or_header_is_a_clear_error(db: &TestDb) {
        let id = create_election(db);
        let err = sv(db, &["roster", "import", "--election", &id, "nope.csv"]).fails();
        assert!(err.contains("cannot read nope.csv"), "{err}");
        let path = db.path("headless.csv");
        std::fs::write(&path, "M1,600,A,a@example.org\n").unwrap();
        let err = sv(db, &["roster", "import", "--election", &id, path.to_str().unwrap()]).fails();
        assert!(err.contains("the header lacks column(s) member_id, local, name, email"), "{err}");
    }
}
