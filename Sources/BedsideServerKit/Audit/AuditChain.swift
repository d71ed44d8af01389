import Crypto
import Foundation

/// The audit trail as a chain nobody can quietly change: each record holds the MAC of the one before
/// and its own, an HMAC-SHA256 under the audit key (`StoreKeys.audit`, derived from the data key, so
/// only a holder of the master key can forge one) over the previous MAC and every field of the record,
/// its sequence number included.
///
/// A changed record no longer matches its MAC; one removed leaves its successor pointing at a MAC that
/// is not there; one inserted without the key does not verify. Cutting records off the end leaves a
/// sound chain: an auditor notes the head `audit verify` prints and checks it later with `--head`.
public enum AuditChain {
    /// The MAC of `event`, stored as record `sequence` after the record whose MAC is `previous`
    /// (empty for the first record).
    static func mac(key: SymmetricKey, previous: Data, sequence: Int64, event: AuditEvent) -> Data {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: previous)
        hmac.update(data: canonical(sequence: sequence, event: event))
        return Data(hmac.finalize())
    }

    /// Every field, each with its length (or a mark for none), so no two records read the same.
    static func canonical(sequence: Int64, event: AuditEvent) -> [UInt8] {
        let fields: [String?] = [
            "bedside-audit-v1", String(sequence), String(event.at), event.actorID, event.actorRole, event.action, event.resourceType,
            event.resourceID, event.patientID, event.outcome, String(event.httpStatus), event.remoteAddress, event.request,
        ]
        var bytes: [UInt8] = []
        for field in fields {
            guard let field else {
                bytes.append(0x2D)  // "-": none
                continue
            }
            let utf8 = Array(field.utf8)
            bytes.append(contentsOf: Array("\(utf8.count):".utf8))
            bytes.append(contentsOf: utf8)
        }
        return bytes
    }

    /// A record as stored, with its links.
    public struct Link: Sendable {
        public var sequence: Int64
        public var event: AuditEvent
        public var previousMAC: Data?
        public var mac: Data?
    }

    /// Where the chain breaks, in words an auditor can act on.
    public struct Break: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable { case changed, removedBefore, insertedOrMoved }
        public var sequence: Int64
        public var kind: Kind
        public var previousSequence: Int64?

        public var description: String {
            switch kind {
            case .changed:
                "Audit record \(sequence) was changed (or written by someone without the audit key): its content does not match its MAC."
            case .removedBefore:
                if let previousSequence {
                    "Audit records were removed between record \(previousSequence) and record \(sequence): record \(sequence) follows a record that is not there."
                } else {
                    "Audit records were removed before record \(sequence), the first one left."
                }
            case .insertedOrMoved:
                "Audit record \(sequence) is not where the chain put it (inserted, or its sequence number changed)."
            }
        }
    }

    /// Checks records in order, carrying the chain from one call to the next.
    public struct Verifier: Sendable {
        let key: SymmetricKey
        public private(set) var previous: Link?
        public private(set) var checked = 0

        public init(key: SymmetricKey) { self.key = key }

        public mutating func check(_ link: Link) throws(Break) {
            let expectedPrevious = previous?.mac ?? Data()
            guard let mac = link.mac, let previousMAC = link.previousMAC else { throw Break(sequence: link.sequence, kind: .changed) }
            if let previous, link.sequence <= previous.sequence {
                throw Break(sequence: link.sequence, kind: .insertedOrMoved, previousSequence: previous.sequence)
            }
            guard AuditChain.mac(key: key, previous: previousMAC, sequence: link.sequence, event: link.event) == mac else {
                throw Break(sequence: link.sequence, kind: .changed, previousSequence: previous?.sequence)
            }
            guard previousMAC == expectedPrevious else {
                throw Break(sequence: link.sequence, kind: .removedBefore, previousSequence: previous?.sequence)
            }
            previous = link
            checked += 1
        }
    }

    /// Hex of the first 8 bytes of a MAC: enough to note a head and compare it later.
    public static func shortHex(_ mac: Data) -> String {
        mac.prefix(8).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }
}
