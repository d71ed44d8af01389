extension JSONValue {
    /// A resource's (or Bundle's) `meta.lastUpdated`, in epoch milliseconds: when the server last
    /// changed it, or, on a search Bundle, when the server answered.
    public var lastUpdatedMilliseconds: Int64? {
        self["meta"]?["lastUpdated"]?.stringValue.flatMap(FHIRDateTime.init)?.lowerBound
    }
}
