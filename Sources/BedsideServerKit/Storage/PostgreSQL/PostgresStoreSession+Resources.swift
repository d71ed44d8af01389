import BedsideCore
import Foundation
import PostgresNIO

/// Resources: versions, history, search, Bulk Data export pages.
extension PostgresStoreSession {
    private func resource(from row: PostgresRandomAccessRow) throws -> StoredResource {
        let (type, id, version) = (try row.text("type"), try row.text("id"), try row.int("version"))
        return StoredResource(
            type: type, id: id, versionID: version, lastUpdated: try row.int64("last_updated"),
            patientID: try row.optionalText("patient_id"), status: try row.optionalText("status"), date: try row.optionalInt64("date"),
            priority: try row.optionalInt("priority"),
            json: try open(row.bytes("json"), context: Self.resourceContext(type: type, id: id, version: version)))
    }

    func resource(type: String, id: String) throws -> StoredResource? {
        try row("SELECT * FROM resource WHERE type = ? AND id = ?", [.text(type), .text(id)]).map(resource(from:))
    }

    func resource(type: String, id: String, version: Int) throws -> StoredResource? {
        guard let current = try resource(type: type, id: id) else { return nil }
        if current.versionID == version { return current }
        guard
            let row = try row(
                "SELECT version, last_updated, json FROM resource_history WHERE type = ? AND id = ? AND version = ?",
                [.text(type), .text(id), .of(version)])
        else { return nil }
        var old = current
        old.versionID = try row.int("version")
        old.lastUpdated = try row.int64("last_updated")
        old.json = try open(row.bytes("json"), context: Self.resourceContext(type: type, id: id, version: old.versionID))
        return old
    }

    func resourceID(type: String, identifier: ResourceCode, patientID: String?) throws -> String? {
        // Answered ahead, or named by a resource kept since (`create` records its identifiers), so
        // that a Bundle's readings, each asking whether it was stored before, are not sent one at a time.
        let scope = patientID ?? ""
        if let known = pending.lookups[IdentifierKey(type: type, scope: scope, identifier: identifier)] { return known }
        let text = """
            SELECT r.id FROM resource_identifier i JOIN resource r ON r.pk = i.resource_pk
            WHERE i.type = ? AND i.patient_key = ? AND i.system = ? AND i.value = ?
            """
        return try sql.rows(Self.numbered(text), [.text(type), .text(scope), .text(identifier.system), .text(identifier.code)]).first
            .map { row throws(PostgresStoreError) in try PostgresSQL.decode(row[0], as: String.self, sql: text) }
    }

    func expectLookups(type: String, _ lookups: [(identifier: ResourceCode, patientID: String?)]) throws {
        guard lookups.count > 1 else { return }
        // Not through `rows`, which would forget the answers already there (another type's).
        try flushResources()
        let text = """
            SELECT k.scope, k.s, k.v, r.id FROM unnest(?::text[], ?::text[], ?::text[]) AS k(scope, s, v)
            JOIN resource_identifier i ON i.type = ? AND i.patient_key = k.scope AND i.system = k.s AND i.value = k.v
            JOIN resource r ON r.pk = i.resource_pk
            """
        let found = try sql.rows(
            Self.numbered(text),
            [
                .texts(lookups.map { $0.patientID ?? "" }), .texts(lookups.map(\.identifier.system)), .texts(lookups.map(\.identifier.code)),
                .text(type),
            ])
        for lookup in lookups {
            pending.lookups[IdentifierKey(type: type, scope: lookup.patientID ?? "", identifier: lookup.identifier)] = .some(nil)
        }
        for row in found {
            let key = IdentifierKey(
                type: type, scope: try row.text("scope"), identifier: ResourceCode(system: try row.text("s"), code: try row.text("v")))
            pending.lookups[key] = .some(try row.text("id"))
        }
    }

    func count(type: String) throws -> Int {
        Int(try integer("SELECT COUNT(*) FROM resource WHERE type = ?", [.text(type)]) ?? 0)
    }

    func put(_ resource: StoredResource) throws {
        let body = try seal(resource.json, context: Self.resourceContext(type: resource.type, id: resource.id, version: resource.versionID))
        if try insertNew(resource, body: body) { return }
        // It exists (`insertNew` found it so, under the store's write lock): a new version.
        guard let existing = try row("SELECT pk, version, last_updated, json FROM resource WHERE type = ? AND id = ?", [.text(resource.type), .text(resource.id)])
        else { throw PostgresStoreError(code: .decoding, message: "PostgreSQL found \(resource.type)/\(resource.id) and then did not") }
        let pk = try existing.int64("pk")
        // The previous version moves to the history as it is, still sealed for its own version.
        try execute(
            "INSERT INTO resource_history (type, id, version, last_updated, json) VALUES (?, ?, ?, ?, ?)",
            [.text(resource.type), .text(resource.id), .integer(try existing.int64("version")), .integer(try existing.int64("last_updated")),
             .bytes(try existing.bytes("json"))])
        try execute(
            """
            UPDATE resource SET version = ?, last_updated = ?, patient_id = ?, status = ?, date = ?, priority = ?, json = ?,
            codes = ?, categories = ? WHERE pk = ?
            """,
            [
                .of(resource.versionID), .integer(resource.lastUpdated), .of(resource.patientID), .of(resource.status), .of(resource.date),
                .of(resource.priority), .bytes(body), .texts(Self.codeWords(resource.codes)), .texts(Self.codeWords(resource.categories)),
                .integer(pk),
            ])
        try execute("DELETE FROM resource_code WHERE resource_pk = ?", [.integer(pk)])
        try execute("DELETE FROM resource_category WHERE resource_pk = ?", [.integer(pk)])
        try execute("DELETE FROM resource_identifier WHERE resource_pk = ?", [.integer(pk)])
        for (table, codes) in [("resource_code", resource.codes), ("resource_category", resource.categories)] where !codes.isEmpty {
            try execute(
                "INSERT INTO \(table) (resource_pk, system, code) SELECT ?, * FROM unnest(?::text[], ?::text[]) ON CONFLICT DO NOTHING",
                [.integer(pk), .texts(codes.map(\.system)), .texts(codes.map(\.code))])
        }
        for identifier in resource.identifiers {
            try execute(
                "INSERT INTO resource_identifier (type, patient_key, system, value, resource_pk) VALUES (?, ?, ?, ?, ?)",
                [.text(resource.type), .text(resource.identifierScope ?? ""), .text(identifier.system), .text(identifier.code), .integer(pk)])
        }
        try recordChange(type: resource.type, id: resource.id, version: resource.versionID, at: resource.lastUpdated)
    }

    func create(_ resource: StoredResource) throws {
        let body = try seal(resource.json, context: Self.resourceContext(type: resource.type, id: resource.id, version: resource.versionID))
        pending.resources.append((resource, body))
        // Its identifiers now name it, kept or sent, until the session's next statement forgets them
        // (which sends it first).
        for identifier in resource.identifiers {
            let key = IdentifierKey(type: resource.type, scope: resource.identifierScope ?? "", identifier: identifier)
            if pending.lookups[key] ?? nil == nil { pending.lookups[key] = .some(resource.id) }
        }
        if pending.resources.count >= PendingWrites.resourcesFlushAt { try flushResources() }
    }

    /// Sends the new resources `create` kept, with their codes, categories, identifiers and change-feed
    /// entries, in one statement (a Bundle of a hundred readings: one round trip, not a hundred).
    func flushResources() throws {
        let batch = pending.resources
        guard !batch.isEmpty else { return }
        pending.resources = []
        // Columns that may be NULL travel as text: "" for NULL, else "v" and the value (arrays of
        // optionals do not cross postgres-nio).
        func nullable(_ value: String?) -> String { value.map { "v" + $0 } ?? "" }
        func nullable(_ value: Int64?) -> String { value.map { "v\($0)" } ?? "" }
        var wordRows: ([Int64], [String]) = ([], [])
        var categoryWordRows: ([Int64], [String]) = ([], [])
        var codeRows: ([Int64], [String], [String]) = ([], [], [])
        var categoryRows: ([Int64], [String], [String]) = ([], [], [])
        var identifierRows: ([Int64], [String], [String]) = ([], [], [])
        for (index, (resource, _)) in batch.enumerated() {
            let row = Int64(index + 1)
            for word in Self.codeWords(resource.codes) { wordRows.0.append(row); wordRows.1.append(word) }
            for word in Self.codeWords(resource.categories) { categoryWordRows.0.append(row); categoryWordRows.1.append(word) }
            for code in resource.codes { codeRows.0.append(row); codeRows.1.append(code.system); codeRows.2.append(code.code) }
            for code in resource.categories { categoryRows.0.append(row); categoryRows.1.append(code.system); categoryRows.2.append(code.code) }
            for code in resource.identifiers { identifierRows.0.append(row); identifierRows.1.append(code.system); identifierRows.2.append(code.code) }
        }
        func decoded(_ column: String) -> String { "CASE WHEN \(column) = '' THEN NULL ELSE substr(\(column), 2) END" }
        let text = """
            WITH input AS (
                SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::text[])
                WITH ORDINALITY AS u(type, id, version, last_updated, patient_id, status, date, priority, json, scope, n)),
            words AS (SELECT n, array_agg(w) AS w FROM unnest(?::bigint[], ?::text[]) AS x(n, w) GROUP BY n),
            category_words AS (SELECT n, array_agg(w) AS w FROM unnest(?::bigint[], ?::text[]) AS x(n, w) GROUP BY n),
            r AS (
                INSERT INTO resource (type, id, version, last_updated, patient_id, status, date, priority, json, codes, categories)
                SELECT i.type, i.id, i.version, i.last_updated, \(decoded("i.patient_id")), \(decoded("i.status")),
                    (\(decoded("i.date")))::bigint, (\(decoded("i.priority")))::bigint, i.json, COALESCE(words.w, '{}'), COALESCE(category_words.w, '{}')
                FROM input i LEFT JOIN words ON words.n = i.n LEFT JOIN category_words ON category_words.n = i.n ORDER BY i.n
                RETURNING pk, type, id),
            numbered AS (SELECT r.pk, i.n, i.type, i.id, i.version, i.last_updated, i.scope FROM r JOIN input i ON i.type = r.type AND i.id = r.id),
            c AS (
                INSERT INTO resource_code (resource_pk, system, code)
                SELECT numbered.pk, x.s, x.c FROM unnest(?::bigint[], ?::text[], ?::text[]) AS x(n, s, c) JOIN numbered ON numbered.n = x.n
                ON CONFLICT DO NOTHING),
            k AS (
                INSERT INTO resource_category (resource_pk, system, code)
                SELECT numbered.pk, x.s, x.c FROM unnest(?::bigint[], ?::text[], ?::text[]) AS x(n, s, c) JOIN numbered ON numbered.n = x.n
                ON CONFLICT DO NOTHING),
            identifiers AS (
                INSERT INTO resource_identifier (type, patient_key, system, value, resource_pk)
                SELECT numbered.type, numbered.scope, x.s, x.v, numbered.pk
                FROM unnest(?::bigint[], ?::text[], ?::text[]) AS x(n, s, v) JOIN numbered ON numbered.n = x.n),
            s AS (UPDATE sequence_counter SET value = value + (SELECT count(*) FROM numbered) WHERE name = 'resource_change' RETURNING value),
            f AS (
                INSERT INTO resource_change (seq, type, id, version, at)
                SELECT s.value - (SELECT count(*) FROM numbered) + row_number() OVER (ORDER BY numbered.n), numbered.type, numbered.id,
                    numbered.version, numbered.last_updated
                FROM numbered, s RETURNING seq)
            SELECT (SELECT count(*) FROM numbered) AS inserted, (SELECT count(*) FROM f) AS recorded
            """
        let answer = try sql.rows(
            Self.numbered(text),
            [
                .texts(batch.map(\.resource.type)), .texts(batch.map(\.resource.id)), .integers(batch.map { Int64($0.resource.versionID) }),
                .integers(batch.map(\.resource.lastUpdated)), .texts(batch.map { nullable($0.resource.patientID) }),
                .texts(batch.map { nullable($0.resource.status) }), .texts(batch.map { nullable($0.resource.date) }),
                .texts(batch.map { nullable($0.resource.priority.map(Int64.init)) }), .byteArrays(batch.map(\.body)),
                .texts(batch.map { $0.resource.identifierScope ?? "" }),
                .integers(wordRows.0), .texts(wordRows.1), .integers(categoryWordRows.0), .texts(categoryWordRows.1),
                .integers(codeRows.0), .texts(codeRows.1), .texts(codeRows.2),
                .integers(categoryRows.0), .texts(categoryRows.1), .texts(categoryRows.2),
                .integers(identifierRows.0), .texts(identifierRows.1), .texts(identifierRows.2),
            ]
        ).first
        // Each new and each recorded in the change feed, or the transaction must not commit.
        guard let answer, try answer.int("inserted") == batch.count, try answer.int("recorded") == batch.count else {
            throw PostgresStoreError(code: .decoding, message: "PostgreSQL stored \(batch.count) new resources only in part")
        }
    }

    /// A resource not stored before (every reading, the common case) with its codes, categories,
    /// identifiers and its entry in the change feed, in one statement: one round trip instead of seven.
    /// False, having changed nothing, when the resource exists (`put` then takes the longer way).
    private func insertNew(_ resource: StoredResource, body: [UInt8]) throws -> Bool {
        let inserted = try row(
            """
            WITH r AS (
                INSERT INTO resource (type, id, version, last_updated, patient_id, status, date, priority, json, codes, categories)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (type, id) DO NOTHING RETURNING pk),
            c AS (
                INSERT INTO resource_code (resource_pk, system, code)
                SELECT r.pk, u.s, u.c FROM r, unnest(?::text[], ?::text[]) AS u(s, c) ON CONFLICT DO NOTHING),
            k AS (
                INSERT INTO resource_category (resource_pk, system, code)
                SELECT r.pk, u.s, u.c FROM r, unnest(?::text[], ?::text[]) AS u(s, c) ON CONFLICT DO NOTHING),
            i AS (
                INSERT INTO resource_identifier (type, patient_key, system, value, resource_pk)
                SELECT r_type, r_key, u.s, u.v, r.pk FROM r, (SELECT ?::text AS r_type, ?::text AS r_key) AS scope,
                unnest(?::text[], ?::text[]) AS u(s, v)),
            s AS (UPDATE sequence_counter SET value = value + 1 WHERE name = 'resource_change' AND EXISTS (SELECT 1 FROM r) RETURNING value),
            f AS (INSERT INTO resource_change (seq, type, id, version, at) SELECT s.value, ?, ?, ?, ? FROM s RETURNING seq)
            SELECT pk, (SELECT count(*) FROM f) AS recorded FROM r
            """,
            [
                .text(resource.type), .text(resource.id), .of(resource.versionID), .integer(resource.lastUpdated), .of(resource.patientID),
                .of(resource.status), .of(resource.date), .of(resource.priority), .bytes(body),
                .texts(Self.codeWords(resource.codes)), .texts(Self.codeWords(resource.categories)),
                .texts(resource.codes.map(\.system)), .texts(resource.codes.map(\.code)),
                .texts(resource.categories.map(\.system)), .texts(resource.categories.map(\.code)),
                .text(resource.type), .text(resource.identifierScope ?? ""),
                .texts(resource.identifiers.map(\.system)), .texts(resource.identifiers.map(\.code)),
                .text(resource.type), .text(resource.id), .of(resource.versionID), .integer(resource.lastUpdated),
            ])
        guard let inserted else { return false }
        // Stored without its change-feed entry (no counter row): the transaction must not commit.
        guard try inserted.int64("recorded") == 1 else { throw PostgresStoreError(code: .decoding, message: "the counter resource_change is missing") }
        return true
    }

    /// Patient lists up to this long are shown to the planner (exact estimates, cheap to plan).
    static let plannedPatientList = 200

    /// The WHERE conditions of a query and their values; nil when it can match nothing.
    private func conditions(of query: ResourceQuery) -> ([String], [SQLValue])? {
        var conditions = ["type = ?"]
        var values: [SQLValue] = [.text(query.type)]
        if let patients = query.patientIDs {
            if patients.isEmpty { return nil }
            // What changed since a moment among a long list (the kiosk's refresh over a monitoring centre's
            // care team of thousands): the list is kept from the planner behind a scalar subquery, since
            // estimating each of 10,000 values took 25 ms of a refresh whose execution takes one. Not
            // otherwise: such a list is then checked value by value, where a planned one is hashed
            // (the kiosk's full load went from 0.8 to 3.4 s that way).
            let sinceAMoment = query.lastUpdated.contains { [.ge, .gt, .sa, .eq].contains($0.comparison) }
            if patients.count == 1 {
                // One patient (a patient's own searches, the kiosk's patient view): an equality, so that
                // the index on the patient's dates hands rows over in the page's order. With `= ANY` of
                // one value PostgreSQL reads and sorts every match of the patient for each page.
                conditions.append("patient_id = ?")
                values.append(.text(patients[0]))
            } else {
                conditions.append(
                    patients.count > Self.plannedPatientList && sinceAMoment ? "patient_id = ANY(CAST((SELECT ?) AS text[]))" : "patient_id = ANY(?)")
                values.append(.texts(patients))
            }
        }
        if let ids = query.ids {
            conditions.append("id = ANY(?)")
            values.append(.texts(ids))
        }
        if let statuses = query.statuses {
            conditions.append("status = ANY(?)")
            values.append(.texts(statuses))
        }
        // A patient's (or named) resources are few whatever the size of the store: their codes are
        // looked at on their own rows (`codes`, `categories`), which the search reads anyway. Joining the
        // code tables instead would read every row of a code (a whole region's, at ten million
        // Observations), which is right only for searches across patients.
        let narrow = query.patientIDs != nil || query.ids != nil
        let coded = [("codes", "resource_code", query.codes), ("categories", "resource_category", query.categories)]
        for (column, table, groups) in coded where narrow {
            for group in groups where !group.isEmpty {
                let words = group.map(Self.codeWord(for:))
                // A token with neither system nor code matches any coding: the resource needs one.
                if words.contains(nil) {
                    conditions.append("(cardinality(\(column)) > 0 OR (SELECT 1 FROM \(table) t WHERE t.resource_pk = resource.pk LIMIT 1) IS NOT NULL)")
                    continue
                }
                // Empty: written by an instance still on the schema before 3 during a rolling upgrade
                // (it fills only the code table), so that table is asked for those rows, one probe
                // each (a scalar subquery: an EXISTS here may be planned as a hash of every row of the
                // code).
                values.append(.texts(words.compactMap { $0 }))
                let fallback = Self.tokenCondition(group, values: &values)
                conditions.append(
                    "(\(column) && ? OR (\(column) = '{}' AND (SELECT 1 FROM \(table) t WHERE t.resource_pk = resource.pk AND (\(fallback)) LIMIT 1) IS NOT NULL))")
            }
        }
        for (_, table, groups) in coded where !narrow {
            for group in groups where !group.isEmpty {
                conditions.append("EXISTS (SELECT 1 FROM \(table) t WHERE t.resource_pk = resource.pk AND (\(Self.tokenCondition(group, values: &values))))")
            }
        }
        if let identifiers = query.identifiers, !identifiers.isEmpty {
            let alternatives = identifiers.map { identifier -> String in
                values.append(.text(identifier.code))
                if identifier.system.isEmpty { return "(i.value = ?)" }
                values.append(.text(identifier.system))
                return "(i.value = ? AND i.system = ?)"
            }
            conditions.append(
                "EXISTS (SELECT 1 FROM resource_identifier i WHERE i.resource_pk = resource.pk AND (\(alternatives.joined(separator: " OR "))))")
        }
        for condition in query.dates { Self.append(condition, column: "date", to: &conditions, &values) }
        for condition in query.lastUpdated { Self.append(condition, column: "last_updated", to: &conditions, &values) }
        return (conditions, values)
    }

    /// Any of a group's tokens, as a condition on the code table's row `t`.
    private static func tokenCondition(_ group: [TokenSearch], values: inout [SQLValue]) -> String {
        group.map { token -> String in
            var parts: [String] = []
            if let code = token.code {
                parts.append("t.code = ?")
                values.append(.text(code))
            }
            if let system = token.system {
                parts.append("t.system = ?")
                values.append(.text(system))
            }
            return "(" + (parts.isEmpty ? "TRUE" : parts.joined(separator: " AND ")) + ")"
        }.joined(separator: " OR ")
    }

    /// A resource's codings as the words of its `codes` (or `categories`) column: each as its code alone,
    /// its system alone, and both (the system's length first, so no two pairs make one word). Migration 3
    /// makes the same words in SQL.
    static func codeWords(_ codes: [ResourceCode]) -> [String] {
        codes.flatMap { coding in
            [TokenSearch(system: nil, code: coding.code), TokenSearch(system: coding.system, code: nil), TokenSearch(system: coding.system, code: coding.code)]
                .compactMap(codeWord(for:))
        }
    }

    /// The word a searched token matches (nil: a token with neither system nor code, which matches anything).
    static func codeWord(for token: TokenSearch) -> String? {
        switch (token.system, token.code) {
        case (let system?, let code?): "s\(system.utf8.count):" + system + code
        case (nil, let code?): "c" + code
        case (let system?, nil): "y" + system
        case (nil, nil): nil
        }
    }

    /// FHIR date comparison of a stored instant with the range of the searched value.
    private static func append(_ condition: ResourceQuery.DateCondition, column: String, to conditions: inout [String], _ values: inout [SQLValue]) {
        let low = condition.value.lowerBound
        let high = condition.value.upperBound
        switch condition.comparison {
        case .eq:
            conditions.append("(\(column) >= ? AND \(column) < ?)")
            values += [.integer(low), .integer(high)]
        case .ap:
            conditions.append("(\(column) >= ? AND \(column) < ?)")
            values += [
                .integer(low.subtractingReportingOverflow(condition.margin).partialValue),
                .integer(high.addingReportingOverflow(condition.margin).partialValue),
            ]
        case .ne:
            conditions.append("(\(column) < ? OR \(column) >= ?)")
            values += [.integer(low), .integer(high)]
        case .gt, .sa:
            conditions.append("\(column) >= ?")
            values.append(.integer(high))
        case .ge:
            conditions.append("\(column) >= ?")
            values.append(.integer(low))
        case .lt, .eb:
            conditions.append("\(column) < ?")
            values.append(.integer(low))
        case .le:
            conditions.append("\(column) < ?")
            values.append(.integer(high))
        }
    }

    func patientIDs(matching query: ResourceQuery) throws -> Set<String> {
        guard let (conditions, values) = self.conditions(of: query) else { return [] }
        return Set(try strings(
            "SELECT DISTINCT patient_id FROM resource WHERE \(conditions.joined(separator: " AND ")) AND patient_id IS NOT NULL", values))
    }

    func total(matching query: ResourceQuery) throws -> Int {
        guard let (conditions, values) = self.conditions(of: query) else { return 0 }
        return Int(try integer("SELECT COUNT(*) FROM resource WHERE \(conditions.joined(separator: " AND "))", values) ?? 0)
    }

    func search(_ query: ResourceQuery) throws -> ResourcePage {
        guard let (statement, values) = searchStatement(query) else { return ResourcePage(resources: [], hasMore: false) }
        let found = try rows(statement, values)
        var rows = found.makeIterator()
        return try ResourcePage.filling(query) { try rows.next().map { row in (try resource(from: row), try row.int64("pk")) } }
    }

    /// The statement a search page runs, with its values (`?` placeholders); nil when nothing can match.
    /// Apart so that its plan can be checked (`EXPLAIN`) by tests.
    func searchStatement(_ query: ResourceQuery) -> (String, [SQLValue])? {
        guard var (conditions, matching) = conditions(of: query) else { return nil }
        if let after = query.after {
            guard let (condition, values) = after.condition(sort: query.sort) else { return nil }
            conditions.append(condition)
            matching += values.map(SQLValue.integer)
        }
        // NULL sorts first ascending and last descending, as in SQLite; the index on a patient's dates
        // (`resource_patient_date_desc`) is in this order, read backwards for ascending.
        var order: [String] = query.sort.map { key in
            let (column, ascending) =
                switch key {
                case .date(let ascending): ("date", ascending)
                case .lastUpdated(let ascending): ("last_updated", ascending)
                case .priority(let ascending): ("priority", ascending)
                }
            return ascending ? "\(column) ASC NULLS FIRST" : "\(column) DESC NULLS LAST"
        }
        order.append("pk ASC")
        return (
            """
            SELECT pk, type, id, version, last_updated, patient_id, status, date, priority, json FROM resource
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?
            """, matching + [.of(query.count + 1), .of(query.offset)]
        )
    }

    func exportPage(_ query: ResourceQuery, updatedAfter: Int64?, updatedBy: Int64, afterKey: Int64, limit: Int, byteBudget: Int) throws
        -> ExportPage
    {
        guard let (conditions, matching) = self.conditions(of: query) else { return ExportPage() }
        let found = try rows(
            """
            SELECT pk, type, id, version, patient_id, last_updated, json FROM resource WHERE \(conditions.joined(separator: " AND "))
            AND last_updated > ? AND pk > ? ORDER BY pk LIMIT ?
            """, matching + [.integer(updatedAfter ?? Int64.min), .integer(afterKey), .of(limit)])
        var page = ExportPage()
        var looked = 0
        var bytes = 0
        for row in found {
            looked += 1
            page.next = try row.int64("pk")
            let (type, id) = (try row.text("type"), try row.text("id"))
            var json: [UInt8]
            if try row.int64("last_updated") <= updatedBy {
                json = try open(row.bytes("json"), context: Self.resourceContext(type: type, id: id, version: try row.int("version")))
            } else {
                // Changed after the export's transactionTime: the version it had then, if it had one.
                guard
                    let older = try self.row(
                        """
                        SELECT version, last_updated, json FROM resource_history WHERE type = ? AND id = ? AND last_updated <= ?
                        ORDER BY version DESC LIMIT 1
                        """, [.text(type), .text(id), .integer(updatedBy)]),
                    try older.int64("last_updated") > (updatedAfter ?? Int64.min)
                else { continue }
                json = try open(older.bytes("json"), context: Self.resourceContext(type: type, id: id, version: try older.int("version")))
            }
            bytes += json.count
            page.rows.append(ExportRow(json: json, patientID: try row.optionalText("patient_id")))
            if bytes >= byteBudget { break }
        }
        if looked < limit && bytes < byteBudget { page.next = nil }
        return page
    }

    // MARK: Change feed and Subscriptions

    func recordChange(type: String, id: String, version: Int, at time: Int64) throws {
        let recorded = try execute(
            """
            WITH s AS (UPDATE sequence_counter SET value = value + 1 WHERE name = 'resource_change' RETURNING value)
            INSERT INTO resource_change (seq, type, id, version, at) SELECT s.value, ?, ?, ?, ? FROM s
            """,
            [.text(type), .text(id), .of(version), .integer(time)])
        guard recorded == 1 else { throw PostgresStoreError(code: .decoding, message: "the counter resource_change is missing") }
    }

    func changes(after sequence: Int64, limit: Int) throws -> [ResourceChange] {
        try rows("SELECT seq, type, id, version, at FROM resource_change WHERE seq > ? ORDER BY seq LIMIT ?", [.integer(sequence), .of(limit)]).map {
            ResourceChange(sequence: try $0.int64("seq"), type: try $0.text("type"), id: try $0.text("id"), version: try $0.int("version"), at: try $0.int64("at"))
        }
    }

    func lastChangeSequence() throws -> Int64 {
        try integer("SELECT MAX(seq) FROM resource_change") ?? 0
    }

    func deleteChanges(through sequence: Int64, limit: Int) throws -> Int {
        try execute(
            "DELETE FROM resource_change WHERE seq IN (SELECT seq FROM resource_change WHERE seq <= ? ORDER BY seq LIMIT ?)",
            [.integer(sequence), .of(limit)])
    }

    private static func subscriptionState(_ row: PostgresRandomAccessRow) throws -> SubscriptionState {
        SubscriptionState(
            subscriptionID: try row.text("subscription_id"), clientID: try row.text("client_id"), cursor: try row.int64("cursor"),
            failures: try row.int("failures"), nextAttemptAt: try row.int64("next_attempt_at"), lastError: try row.optionalText("last_error"),
            events: try row.int64("events"))
    }

    func subscriptionState(id: String) throws -> SubscriptionState? {
        try row("SELECT * FROM subscription_state WHERE subscription_id = ?", [.text(id)]).map(Self.subscriptionState)
    }

    func subscriptionStates() throws -> [SubscriptionState] {
        try rows("SELECT * FROM subscription_state ORDER BY subscription_id").map(Self.subscriptionState)
    }

    func save(_ state: SubscriptionState) throws {
        try execute(
            """
            INSERT INTO subscription_state (subscription_id, client_id, cursor, failures, next_attempt_at, last_error, events)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (subscription_id) DO UPDATE SET client_id = EXCLUDED.client_id, cursor = EXCLUDED.cursor,
                failures = EXCLUDED.failures, next_attempt_at = EXCLUDED.next_attempt_at, last_error = EXCLUDED.last_error,
                events = EXCLUDED.events
            """,
            [
                .text(state.subscriptionID), .text(state.clientID), .integer(state.cursor), .of(state.failures), .integer(state.nextAttemptAt),
                .of(state.lastError), .of(state.events),
            ])
    }
}
