import PostgresNIO

/// Reading a row's columns by name, each a typed error when the column is missing or of another type
/// (a schema that is not this version's), never a trap.
extension PostgresRandomAccessRow {
    private func cell(_ column: String) throws(PostgresStoreError) -> PostgresCell {
        guard contains(column) else { throw PostgresStoreError(code: .decoding, message: "PostgreSQL's answer has no column \(column)") }
        return self[column]
    }

    func text(_ column: String) throws(PostgresStoreError) -> String {
        guard let value = try optionalText(column) else { throw PostgresStoreError(code: .decoding, message: "\(column) is NULL") }
        return value
    }

    func optionalText(_ column: String) throws(PostgresStoreError) -> String? {
        try PostgresSQL.decode(cell(column), as: String?.self, sql: column)
    }

    func int64(_ column: String) throws(PostgresStoreError) -> Int64 {
        guard let value = try optionalInt64(column) else { throw PostgresStoreError(code: .decoding, message: "\(column) is NULL") }
        return value
    }

    func optionalInt64(_ column: String) throws(PostgresStoreError) -> Int64? {
        try PostgresSQL.decode(cell(column), as: Int64?.self, sql: column)
    }

    func int(_ column: String) throws(PostgresStoreError) -> Int {
        Int(try int64(column))
    }

    func optionalInt(_ column: String) throws(PostgresStoreError) -> Int? {
        try optionalInt64(column).map { Int($0) }
    }

    func bytes(_ column: String) throws(PostgresStoreError) -> [UInt8] {
        guard let value = try optionalBytes(column) else { throw PostgresStoreError(code: .decoding, message: "\(column) is NULL") }
        return value
    }

    func optionalBytes(_ column: String) throws(PostgresStoreError) -> [UInt8]? {
        try PostgresSQL.bytes(cell(column), sql: column)
    }
}

extension SQLValue {
    static func of(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    static func of(_ value: Int64?) -> SQLValue { value.map { .integer($0) } ?? .null }
    static func of(_ value: Int?) -> SQLValue { value.map { .integer(Int64($0)) } ?? .null }
    static func of(_ value: [UInt8]?) -> SQLValue { value.map { .bytes($0) } ?? .null }
}
