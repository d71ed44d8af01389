import GRDB

/// What the unusual-activity rules read from the audit trail, and the alerts they keep.
extension SQLiteStoreSession {
    func auditEvents(from start: Int64, until end: Int64, actions: [String], actorRole: String?) throws -> [AuditEvent] {
        let list = actions.map { _ in "?" }.joined(separator: ", ")
        // The hour along the time index: an index per role or action would cost every audit write more
        // than this look costs once a minute (bedside-bench server, `unusualActivity`).
        let role = actorRole == nil ? "" : "AND actor_role = ?"
        var values: [any DatabaseValueConvertible] = [start, end]
        values += actions.map { $0 as any DatabaseValueConvertible }
        if let actorRole { values.append(actorRole) }
        return try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT * FROM audit_event INDEXED BY audit_event_at WHERE at >= ? AND at < ? AND action IN (\(list)) \(role) ORDER BY seq
                """),
            arguments: StatementArguments(values)
        ).map(Self.auditEvent)
    }

    func patientsSeen(byRole role: String, actions: [String], from start: Int64, until end: Int64, atLeast minimum: Int) throws -> [String: Int] {
        let list = actions.map { _ in "?" }.joined(separator: ", ")
        var values: [any DatabaseValueConvertible] = [role, start, end]
        values += actions.map { $0 as any DatabaseValueConvertible }
        values.append(minimum)
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT actor_id, COUNT(DISTINCT patient_id) AS patients FROM audit_event INDEXED BY audit_event_at
                WHERE actor_role = ? AND at >= ? AND at < ? AND action IN (\(list)) AND outcome = 'success'
                    AND actor_id IS NOT NULL AND patient_id IS NOT NULL
                GROUP BY actor_id HAVING COUNT(DISTINCT patient_id) >= ?
                """), arguments: StatementArguments(values))
        return Dictionary(rows.map { ($0["actor_id"] as String, $0["patients"] as Int) }, uniquingKeysWith: max)
    }


    func hourlyPatientCounts(actorID: String, actions: [String], from start: Int64, until end: Int64) throws -> [Int] {
        let list = actions.map { _ in "?" }.joined(separator: ", ")
        let arguments = StatementArguments([actorID, start, end] + actions.map { $0 as any DatabaseValueConvertible })
        return try Int.fetchAll(
            db.cachedStatement(sql: """
                SELECT COUNT(DISTINCT patient_id) FROM audit_event INDEXED BY audit_event_clinician
                WHERE actor_role = 'clinician' AND actor_id = ? AND at >= ? AND at < ? AND action IN (\(list)) AND patient_id IS NOT NULL
                GROUP BY at / 3600000
                """), arguments: arguments)
    }

    func hasAuditEvent(actorID: String, actions: [String], resourceType: String?, before time: Int64) throws -> Bool {
        let list = actions.map { _ in "?" }.joined(separator: ", ")
        let values: [(any DatabaseValueConvertible)?] = [actorID, time] + actions.map { $0 as (any DatabaseValueConvertible)? } + [resourceType]
        let arguments = StatementArguments(values)
        return try Bool.fetchOne(
            db.cachedStatement(sql: """
                SELECT EXISTS (SELECT 1 FROM audit_event INDEXED BY audit_event_system WHERE actor_role = 'system' AND actor_id = ? AND at < ?
                AND action IN (\(list)) AND resource_type IS ? AND outcome = 'success')
                """), arguments: arguments) ?? false
    }

    private static func securityAlert(_ row: Row) -> SecurityAlert {
        var alert = SecurityAlert(
            rule: row["rule"], subject: row["subject"], hour: row["hour"], count: row["count"], threshold: row["threshold"],
            detail: row["detail"], raisedAt: row["raised_at"])
        alert.id = row["id"]
        alert.mailedAt = row["mailed_at"]
        return alert
    }

    func securityAlerts(raisedSince time: Int64) throws -> [SecurityAlert] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM security_alert WHERE raised_at >= ? ORDER BY id"), arguments: [time])
            .map(Self.securityAlert)
    }

    func watchedUntilHour() throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT until_hour FROM security_watch WHERE id = 1"))
    }

    func save(_ alert: SecurityAlert) throws -> SecurityAlert? {
        // One alert per rule and subject for activity within an hour of one already raised (the clock hour
        // and the last 60 minutes, which may start in the hour before, see the same activity).
        if let existing = try Row.fetchOne(
            db.cachedStatement(sql: """
                SELECT * FROM security_alert WHERE rule = ? AND subject = ? AND hour BETWEEN ? AND ? ORDER BY hour DESC LIMIT 1
                """),
            arguments: [alert.rule, alert.subject, alert.hour - 3_600_000, alert.hour + 3_600_000])
        {
            // Seen again: the count and words grow, the alert stays one.
            if (existing["count"] as Int) < alert.count {
                try db.execute(
                    sql: "UPDATE security_alert SET count = ?, detail = ? WHERE id = ?",
                    arguments: [alert.count, alert.detail, existing["id"] as Int64])
            }
            return nil
        }
        try db.execute(
            sql: """
                INSERT INTO security_alert (rule, subject, hour, count, threshold, detail, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [alert.rule, alert.subject, alert.hour, alert.count, alert.threshold, alert.detail, alert.raisedAt])
        var saved = alert
        saved.id = db.lastInsertedRowID
        return saved
    }

    func setWatchedUntilHour(_ hour: Int64) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO security_watch (id, until_hour) VALUES (1, ?)", arguments: [hour])
    }

    func markMailed(alertID: Int64, at time: Int64) throws {
        try db.execute(sql: "UPDATE security_alert SET mailed_at = ? WHERE id = ?", arguments: [time, alertID])
    }

    func alertMails(raisedSince time: Int64) throws -> [AlertMail] {
        try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT m.* FROM security_alert_mail m JOIN security_alert a ON a.id = m.alert_id WHERE a.raised_at >= ?
                """), arguments: [time]
        ).map { AlertMail(alertID: $0["alert_id"], accountID: $0["account_id"], attemptedAt: $0["attempted_at"], mailedAt: $0["mailed_at"]) }
    }

    func saveAlertMail(alertID: Int64, accountID: String, attemptedAt: Int64, mailedAt: Int64?) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO security_alert_mail (alert_id, account_id, attempted_at, mailed_at) VALUES (?, ?, ?, ?)",
            arguments: [alertID, accountID, attemptedAt, mailedAt])
    }
}
