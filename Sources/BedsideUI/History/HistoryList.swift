import BedsideCore
import Foundation

/// A history list: pages of one kind, loaded as the patient scrolls.
public struct HistoryList: Sendable, Equatable {
    public var kind: MeasurementKind
    public var items: [MeasurementRecord] = []
    public var total = 0
    public var selected = 0
    /// First visible row.
    public var top = 0
    public var loading = false
    public var complete = false

    public init(kind: MeasurementKind) { self.kind = kind }
}
