import SupportDesk

/// A value the Chronicle filters on, with its position among its cases.
protocol FacetKey: CaseIterable, Hashable {
    /// 0 ..< `allCases.count`, a different one per case (a test checks it).
    var facetIndex: Int { get }
}

extension TicketStatus: FacetKey {
    var facetIndex: Int { Int(DeskView.OpenFacts.rank(of: self)) }
}

extension TicketType: FacetKey {
    var facetIndex: Int {
        switch self {
        case .outage: 0
        case .incident: 1
        case .changeRequest: 2
        }
    }
}

extension Criticality: FacetKey {
    var facetIndex: Int {
        switch self {
        case .low: 0
        case .normal: 1
        case .high: 2
        case .critical: 3
        }
    }
}

extension SupportLevel: FacetKey {
    var facetIndex: Int {
        switch self {
        case .l1: 0
        case .l2: 1
        case .l3: 2
        }
    }
}

/// Tickets by one facet's value (status, type, criticality or level): a `TicketSet` per case,
/// found by the case's position. The fold moves a ticket between them at every status change
/// and classification; a `Dictionary` hashed the value twice per move.
struct FacetIndex<Key: FacetKey> {
    private var sets = Array(repeating: TicketSet(), count: Key.allCases.count)

    init() {}

    /// The tickets with value `key` (empty if none).
    subscript(key: Key) -> TicketSet {
        _read { yield sets[key.facetIndex] }
        _modify { yield &sets[key.facetIndex] }
    }

    /// The values held by at least one ticket, with their tickets (tests).
    var nonEmpty: [Key: TicketSet] {
        var out: [Key: TicketSet] = [:]
        for k in Key.allCases where !self[k].isEmpty { out[k] = self[k] }
        return out
    }
}
