extension String {
    /// Without `character` at either end (e.g. spaces around typed text), without Foundation.
    public func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
