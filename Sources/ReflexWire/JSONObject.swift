/// The members of a JSON object, in document order, with unique keys.
///
/// An array of pairs rather than a `Dictionary`: request headers have a handful of keys, which a
/// linear scan finds without hashing, and document order is kept for error messages. (Not
/// benchmarked against a `Dictionary`.) The parser guarantees keys are unique.
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: WireJSON)]

    /// Creates an object; a later pair with a key already present replaces the earlier value.
    public init(_ members: [(key: String, value: WireJSON)] = []) {
        self.members = []
        self.members.reserveCapacity(members.count)
        for member in members { self[member.key] = member.value }
    }

    public init(dictionaryLiteral elements: (String, WireJSON)...) {
        self.init(elements.map { (key: $0.0, value: $0.1) })
    }

    /// Trusts the caller (the parser) that keys are unique.
    init(uniqueMembers: [(key: String, value: WireJSON)]) {
        members = uniqueMembers
    }

    public var count: Int { members.count }

    public var keys: [String] { members.map(\.key) }

    public subscript(key: String) -> WireJSON? {
        get {
            for member in members where member.key == key { return member.value }
            return nil
        }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append((key, newValue))
            }
        }
    }

    /// Equal when they have the same keys with equal values, in any order (as JSON defines).
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.count == rhs.count && lhs.members.allSatisfy { rhs[$0.key] == $0.value }
    }
}
