import BedsideCore
import Foundation
import PostgresNIO

/// Export jobs, retention, the audit trail and the unusual-activity alerts.
extension PostgresStoreSession {
    // MARK: Bulk Data export jobs

    private static func exportJob(_ row: PostgresRandomAccessRow) throws -> ExportJobRecord {
        var job = ExportJobRecord(
            id: try row.text("id"), clientID: try row.text("client_id"), request: try row.bytes("request"),
            status: ExportJobRecord.Status(rawValue: try row.text("status")) ?? .failed, createdAt: try row.int64("created_at"),
            transactionTime: try row.int64("transaction_time"))
        job.finishedAt = try row.optionalInt64("finished_at")
        job.expiresAt = try row.optionalInt64("expires_at")
        job.progress = try row.optionalText("progress")
        job.manifest = try row.optionalBytes("manifest")
        job.error = try row.optionalText("error")
        job.attempt = try row.optionalText("attempt")
        return job
    }

    func exportJob(id: String) throws -> ExportJobRecord? {
        try row("SELECT * FROM export_job WHERE id = ?", [.text(id)]).map(Self.exportJob)
    }

    func heldExportJobs(clientID: String, at time: Int64) throws -> [ExportJobRecord] {
        try rows(
            """
            SELECT * FROM export_job WHERE client_id = ?
            AND (status IN ('accepted', 'running') OR (status = 'complete' AND (expires_at IS NULL OR expires_at > ?)))
            """, [.text(clientID), .integer(time)]
        ).map(Self.exportJob)
    }

    func nextExportJob() throws -> ExportJobRecord? {
        try row("SELECT * FROM export_job WHERE status = 'accepted' ORDER BY created_at, id LIMIT 1").map(Self.exportJob)
    }

    func exportJobsToDelete(at time: Int64) throws -> [ExportJobRecord] {
        try rows("SELECT * FROM export_job WHERE status = 'cancelled' OR (expires_at IS NOT NULL AND expires_at <= ?)", [.integer(time)])
            .map(Self.exportJob)
    }

    func insert(_ job: ExportJobRecord) throws {
        try execute(
            "INSERT INTO export_job (id, client_id, request, status, created_at, transaction_time) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(job.id), .text(job.clientID), .bytes(job.request), .text(job.status.rawValue), .integer(job.createdAt), .integer(job.transactionTime)])
        try update(job)
    }

    func update(_ job: ExportJobRecord) throws {
        try execute(
            "UPDATE export_job SET status = ?, finished_at = ?, expires_at = ?, progress = ?, manifest = ?, error = ?, attempt = ? WHERE id = ?",
            [
                .text(job.status.rawValue), .of(job.finishedAt), .of(job.expiresAt), .of(job.progress), .of(job.manifest), .of(job.error),
                .of(job.attempt), .text(job.id),
            ])
    }

    func deleteExportJob(id: String) throws {
        try execute("DELETE FROM export_job WHERE id = ?", [.text(id)])
    }

    func requeueRunningExportJobs() throws -> [ExportJobRecord] {
        let running = try rows("SELECT * FROM export_job WHERE status = 'running' FOR UPDATE").map(Self.exportJob)
        try execute("UPDATE export_job SET status = 'accepted', progress = NULL, attempt = NULL WHERE status = 'running'")
        return running
    }

    // MARK: End of care and erasure

    private static func careEnd(_ row: PostgresRandomAccessRow) throws -> CareEnd {
        CareEnd(
            patientID: try row.text("patient_id"), endedAt: try row.int64("ended_at"),
            source: CareEnd.Source(rawValue: try row.text("source")) ?? .commandLine)
    }

    func careEnd(patientID: String) throws -> CareEnd? {
        try row("SELECT * FROM care_end WHERE patient_id = ?", [.text(patientID)]).map(Self.careEnd)
    }

    func careEnds(endedBefore time: Int64) throws -> [CareEnd] {
        try rows("SELECT * FROM care_end WHERE ended_at < ? ORDER BY ended_at, patient_id", [.integer(time)]).map(Self.careEnd)
    }

    func save(_ careEnd: CareEnd) throws {
        try execute(
            """
            INSERT INTO care_end (patient_id, ended_at, source) VALUES (?, ?, ?)
            ON CONFLICT (patient_id) DO UPDATE SET ended_at = EXCLUDED.ended_at, source = EXCLUDED.source
            """, [.text(careEnd.patientID), .integer(careEnd.endedAt), .text(careEnd.source.rawValue)])
    }

    func deleteCareEnd(patientID: String) throws {
        try execute("DELETE FROM care_end WHERE patient_id = ?", [.text(patientID)])
    }

    func patientDataSummary(patientID: String) throws -> PatientDataSummary {
        guard
            let row = try row(
                """
                SELECT COUNT(*) AS resources, COALESCE(SUM(version), 0)::bigint AS versions, COALESCE(MAX(last_updated), 0) AS newest
                FROM resource WHERE patient_id = ?
                """, [.text(patientID)])
        else { return PatientDataSummary() }
        let history = try integer(
            "SELECT COUNT(*) FROM resource_history h JOIN resource r ON r.type = h.type AND r.id = h.id WHERE r.patient_id = ?",
            [.text(patientID)]) ?? 0
        return PatientDataSummary(
            resources: try row.int("resources"), versions: try row.int("versions"), newestUpdate: try row.int64("newest"), historyVersions: Int(history))
    }

    func patientHistory(patientID: String, type: String, after: (id: String, version: Int)?, limit: Int) throws
        -> [(id: String, version: Int, json: [UInt8])]
    {
        try rows(
            """
            SELECT h.id, h.version, h.json FROM resource_history h JOIN resource r ON r.type = h.type AND r.id = h.id
            WHERE r.patient_id = ? AND h.type = ? AND (h.id, h.version) > (?, ?) ORDER BY h.id, h.version LIMIT ?
            """, [.text(patientID), .text(type), .text(after?.id ?? ""), .integer(Int64(after?.version ?? Int.min)), .of(limit)]
        ).map { row in
            let (id, version) = (try row.text("id"), try row.int("version"))
            return (id, version, try open(row.bytes("json"), context: Self.resourceContext(type: type, id: id, version: version)))
        }
    }

    func erasePatient(patientID: String) throws -> ErasureCounts {
        var counts = ErasureCounts()
        let patient: [SQLValue] = [.text(patientID)]
        counts.historyVersions = try execute(
            "DELETE FROM resource_history WHERE (type, id) IN (SELECT type, id FROM resource WHERE patient_id = ?)", patient)
        try execute("DELETE FROM resource_change WHERE (type, id) IN (SELECT type, id FROM resource WHERE patient_id = ?)", patient)
        // Codes, categories and identifiers go with their resource (ON DELETE CASCADE).
        counts.resources = try execute("DELETE FROM resource WHERE patient_id = ?", patient)
        try execute("DELETE FROM care_team_member WHERE patient_id = ?", patient)
        try execute("DELETE FROM care_end WHERE patient_id = ?", patient)
        // Sessions, login codes and the enrolment code go with the account (ON DELETE CASCADE).
        counts.accounts = try execute("DELETE FROM account WHERE patient_id = ?", patient)
        return counts
    }

    // MARK: Audit

    /// Appends to the chained trail (`AuditChain`): kept with the session until it commits (or until
    /// it reads the trail), then written in one go, inside the write transaction and under the store's
    /// write lock, so the record before is the last one committed, whichever instance wrote it. A
    /// Bundle of a hundred readings writes its hundred lines in two statements, not two hundred.
    func append(_ events: [AuditEvent]) throws {
        pending.audit += events
        if pending.audit.count >= PendingWrites.auditFlushAt { try flushAudit() }
    }

    /// Writes the lines `append` kept: before the transaction commits, and before anything in it reads
    /// the trail.
    func flushAudit() throws {
        let events = pending.audit
        guard !events.isEmpty else { return }
        pending.audit = []
        // The numbers reserved and the chain's last link, in one round trip.
        guard
            let head = try row(
                """
                WITH s AS (UPDATE sequence_counter SET value = value + ? WHERE name = 'audit_event' RETURNING value)
                SELECT s.value AS last, (SELECT mac FROM audit_event ORDER BY seq DESC LIMIT 1) AS mac FROM s
                """, [.of(events.count)])
        else { throw PostgresStoreError(code: .decoding, message: "the counter audit_event is missing") }
        var previous = try head.optionalBytes("mac") ?? []
        var sequence = try head.int64("last") - Int64(events.count)
        let columns = "(seq, at, actor_id, actor_role, action, resource_type, resource_id, patient_id, outcome, http_status, remote_address, request, prev_mac, mac)"
        for chunk in stride(from: 0, to: events.count, by: PendingWrites.auditRowsPerStatement).map({ events[$0..<min($0 + PendingWrites.auditRowsPerStatement, events.count)] }) {
            var values: [SQLValue] = []
            values.reserveCapacity(chunk.count * 14)
            for event in chunk {
                sequence += 1
                let mac = Array(AuditChain.mac(key: keys.audit, previous: Data(previous), sequence: sequence, event: event))
                values += [
                    .integer(sequence), .integer(event.at), .of(event.actorID), .of(event.actorRole), .text(event.action), .of(event.resourceType),
                    .of(event.resourceID), .of(event.patientID), .text(event.outcome), .of(event.httpStatus), .of(event.remoteAddress),
                    .of(event.request), .bytes(previous), .bytes(mac),
                ]
                previous = mac
            }
            let rows = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            try execute("INSERT INTO audit_event \(columns) VALUES \(rows)", values)
        }
    }

    static func auditEvent(_ row: PostgresRandomAccessRow) throws -> AuditEvent {
        AuditEvent(
            at: try row.int64("at"), actorID: try row.optionalText("actor_id"), actorRole: try row.optionalText("actor_role"),
            action: try row.text("action"), resourceType: try row.optionalText("resource_type"), resourceID: try row.optionalText("resource_id"),
            patientID: try row.optionalText("patient_id"), outcome: try row.text("outcome"), httpStatus: try row.int("http_status"),
            remoteAddress: try row.optionalText("remote_address"), request: try row.optionalText("request"))
    }

    func auditEvents(after sequence: Int64, limit: Int) throws -> [(sequence: Int64, event: AuditEvent)] {
        try flushAudit()
        return try rows("SELECT * FROM audit_event WHERE seq > ? ORDER BY seq LIMIT ?", [.integer(sequence), .of(limit)]).map { row in
            (try row.int64("seq"), try Self.auditEvent(row))
        }
    }

    func auditLinks(after sequence: Int64, limit: Int) throws -> [AuditChain.Link] {
        try flushAudit()
        return try rows("SELECT * FROM audit_event WHERE seq > ? ORDER BY seq LIMIT ?", [.integer(sequence), .of(limit)]).map { row in
            AuditChain.Link(
                sequence: try row.int64("seq"), event: try Self.auditEvent(row), previousMAC: (try row.optionalBytes("prev_mac")).map { Data($0) },
                mac: (try row.optionalBytes("mac")).map { Data($0) })
        }
    }

    // MARK: Unusual activity

    func auditEvents(from start: Int64, until end: Int64, actions: [String], actorRole: String?) throws -> [AuditEvent] {
        try flushAudit()
        let role = actorRole == nil ? "" : "AND actor_role = ?"
        return try rows(
            "SELECT * FROM audit_event WHERE at >= ? AND at < ? AND action = ANY(?) \(role) ORDER BY seq",
            [.integer(start), .integer(end), .texts(actions)] + (actorRole.map { [.text($0)] } ?? [])
        ).map(Self.auditEvent)
    }

    func patientsSeen(byRole role: String, actions: [String], from start: Int64, until end: Int64, atLeast minimum: Int) throws -> [String: Int] {
        try flushAudit()
        let found = try rows(
            """
            SELECT actor_id, COUNT(DISTINCT patient_id) AS patients FROM audit_event
            WHERE actor_role = ? AND at >= ? AND at < ? AND action = ANY(?) AND outcome = 'success'
                AND actor_id IS NOT NULL AND patient_id IS NOT NULL
            GROUP BY actor_id HAVING COUNT(DISTINCT patient_id) >= ?
            """, [.text(role), .integer(start), .integer(end), .texts(actions), .of(minimum)])
        return Dictionary(try found.map { (try $0.text("actor_id"), try $0.int("patients")) }, uniquingKeysWith: max)
    }

    func hourlyPatientCounts(actorID: String, actions: [String], from start: Int64, until end: Int64) throws -> [Int] {
        try flushAudit()
        return try rows(
            """
            SELECT COUNT(DISTINCT patient_id) AS patients FROM audit_event
            WHERE actor_role = 'clinician' AND actor_id = ? AND at >= ? AND at < ? AND action = ANY(?) AND patient_id IS NOT NULL
            GROUP BY at / 3600000
            """, [.text(actorID), .integer(start), .integer(end), .texts(actions)]
        ).map { try $0.int("patients") }
    }

    func hasAuditEvent(actorID: String, actions: [String], resourceType: String?, before time: Int64) throws -> Bool {
        try flushAudit()
        return try row(
            """
            SELECT 1 AS found FROM audit_event WHERE actor_role = 'system' AND actor_id = ? AND at < ?
            AND action = ANY(?) AND resource_type IS NOT DISTINCT FROM ? AND outcome = 'success' LIMIT 1
            """, [.text(actorID), .integer(time), .texts(actions), .of(resourceType)]) != nil
    }

    private static func securityAlert(_ row: PostgresRandomAccessRow) throws -> SecurityAlert {
        var alert = SecurityAlert(
            rule: try row.text("rule"), subject: try row.text("subject"), hour: try row.int64("hour"), count: try row.int("count"),
            threshold: try row.int("threshold"), detail: try row.text("detail"), raisedAt: try row.int64("raised_at"))
        alert.id = try row.int64("id")
        alert.mailedAt = try row.optionalInt64("mailed_at")
        return alert
    }

    func securityAlerts(raisedSince time: Int64) throws -> [SecurityAlert] {
        try rows("SELECT * FROM security_alert WHERE raised_at >= ? ORDER BY id", [.integer(time)]).map(Self.securityAlert)
    }

    func watchedUntilHour() throws -> Int64? {
        try integer("SELECT until_hour FROM security_watch WHERE id = 1")
    }

    func save(_ alert: SecurityAlert) throws -> SecurityAlert? {
        // One alert per rule and subject for activity within an hour of one already raised.
        if let existing = try row(
            "SELECT id, count FROM security_alert WHERE rule = ? AND subject = ? AND hour BETWEEN ? AND ? ORDER BY hour DESC LIMIT 1",
            [.text(alert.rule), .text(alert.subject), .integer(alert.hour - 3_600_000), .integer(alert.hour + 3_600_000)])
        {
            if try existing.int("count") < alert.count {
                try execute(
                    "UPDATE security_alert SET count = ?, detail = ? WHERE id = ?", [.of(alert.count), .text(alert.detail), .integer(try existing.int64("id"))])
            }
            return nil
        }
        guard
            let id = try integer(
                "INSERT INTO security_alert (rule, subject, hour, count, threshold, detail, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    .text(alert.rule), .text(alert.subject), .integer(alert.hour), .of(alert.count), .of(alert.threshold), .text(alert.detail),
                    .integer(alert.raisedAt),
                ])
        else { throw PostgresStoreError(code: .decoding, message: "PostgreSQL gave no id for a new alert") }
        var saved = alert
        saved.id = id
        return saved
    }

    func setWatchedUntilHour(_ hour: Int64) throws {
        try execute(
            "INSERT INTO security_watch (id, until_hour) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET until_hour = EXCLUDED.until_hour", [.integer(hour)])
    }

    func markMailed(alertID: Int64, at time: Int64) throws {
        try execute("UPDATE security_alert SET mailed_at = ? WHERE id = ?", [.integer(time), .integer(alertID)])
    }

    func alertMails(raisedSince time: Int64) throws -> [AlertMail] {
        try rows("SELECT m.* FROM security_alert_mail m JOIN security_alert a ON a.id = m.alert_id WHERE a.raised_at >= ?", [.integer(time)]).map {
            AlertMail(
                alertID: try $0.int64("alert_id"), accountID: try $0.text("account_id"), attemptedAt: try $0.int64("attempted_at"),
                mailedAt: try $0.optionalInt64("mailed_at"))
        }
    }

    func saveAlertMail(alertID: Int64, accountID: String, attemptedAt: Int64, mailedAt: Int64?) throws {
        try execute(
            """
            INSERT INTO security_alert_mail (alert_id, account_id, attempted_at, mailed_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (alert_id, account_id) DO UPDATE SET attempted_at = EXCLUDED.attempted_at, mailed_at = EXCLUDED.mailed_at
            """, [.integer(alertID), .text(accountID), .integer(attemptedAt), .of(mailedAt)])
    }
}
