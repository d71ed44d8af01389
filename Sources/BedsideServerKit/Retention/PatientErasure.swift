import BedsideCore
import Foundation

/// Why a patient was not erased (or their care end not recorded), in words for the operator.
public struct RetentionError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// No such patient (no account, no Patient resource).
        case unknownPatient
        /// The hand-over could not be written; nothing was erased.
        case handOver
        /// The patient's data changed while it was handed over; nothing was erased.
        case changedDuringHandOver
        /// Their care resumed (or never ended): retention does not touch them.
        case inCare
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func handOver(_ message: String) -> RetentionError { RetentionError(.handOver, message) }
}

/// Who erases: an administrator at the command line, or the server's own retention run.
public struct ErasureActor: Sendable {
    public var id: String
    public var role: String
    public var address: String?

    public static let commandLine = ErasureActor(id: "command-line", role: "admin", address: "local")
    public static let retentionSchedule = ErasureActor(id: "retention", role: "system", address: nil)
}

/// Erases one patient for good, after handing their data over (`PatientHandOver`).
///
/// The erasure is one transaction that first checks the patient's data is what was handed over (a
/// reading that arrived meanwhile is never deleted unseen); then the WAL is checkpointed so the deleted
/// rows (overwritten, `secure_delete`) leave the files too. The audit trail keeps one `erase` record:
/// who, when, why, and the Patient id, which afterwards points at nothing in the database (a pseudonym
/// that only the hand-over links to a person). Earlier audit records stay as they were (the chain).
public struct PatientErasure: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock

    public init(store: any ServerStore, clock: any WallClock = SystemClock()) {
        self.store = store
        self.clock = clock
    }

    public struct Report: Sendable {
        public var patientID: String
        /// Where the hand-over was written.
        public var handOver: URL
        /// Resources handed over, per type.
        public var handedOver: [String: Int]
        public var erased: ErasureCounts
        /// What became of the erased rows' bytes in the database's files.
        public var removal: DeletedDataRemoval
    }

    /// Hands the patient's data over into `directory` and erases it. With `careEndedBefore`, the
    /// patient's care must still have ended before that time when the erasure commits (retention);
    /// without, it is erased whatever their care (a request to be forgotten).
    public func erase(
        patientID: String, handOverTo directory: URL, actor: ErasureActor, reason: String, careEndedBefore: Int64? = nil
    ) async throws -> Report {
        let before = try await store.read { db in
            (summary: try db.patientDataSummary(patientID: patientID), hasAccount: try db.account(patientID: patientID) != nil)
        }
        guard before.summary.resources > 0 || before.hasAccount else {
            throw RetentionError(.unknownPatient, "There is no Patient/\(patientID).")
        }
        let time = clock.now()
        let written = try await PatientHandOver(store: store).write(patientID: patientID, into: directory, at: time, reason: reason)
        let erased: ErasureCounts
        do {
            guard written.total == before.summary.resources, written.earlierVersions == before.summary.historyVersions else {
                throw Self.changed(patientID)
            }
            erased = try await store.write { db -> ErasureCounts in
                guard try db.patientDataSummary(patientID: patientID) == before.summary else { throw Self.changed(patientID) }
                if let careEndedBefore {
                    guard let end = try db.careEnd(patientID: patientID), end.endedAt < careEndedBefore else {
                        throw RetentionError(.inCare, "Patient/\(patientID) is in care again; retention leaves them.")
                    }
                }
                if let account = try db.account(patientID: patientID) {
                    try db.deleteThrottle(key: "login:" + Secrets.sha256Hex(account.email))
                }
                let counts = try db.erasePatient(patientID: patientID)
                try db.append([
                    AuditEvent(
                        at: time, actorID: actor.id, actorRole: actor.role, action: "erase",
                        resourceType: SupportedResource.patient.rawValue, resourceID: patientID, patientID: patientID,
                        outcome: "success", httpStatus: 0, remoteAddress: actor.address, request: reason)
                ])
                return counts
            }
        } catch {
            // Nothing was erased: the hand-over of data still held would only confuse.
            BackupPaths.removeTree(written.folder.path)
            throw error
        }
        // Erased: from here on the hand-over is the only copy, whatever happens (a stop, a busy database).
        let removal = (try? await store.removeDeletedData()) ?? .later
        return Report(patientID: patientID, handOver: written.folder, handedOver: written.counts, erased: erased, removal: removal)
    }

    private static func changed(_ patientID: String) -> RetentionError {
        RetentionError(
            .changedDuringHandOver, "The data of Patient/\(patientID) changed while it was handed over; nothing was erased. Run it again.")
    }
}
