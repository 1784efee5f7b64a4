/// A tile grid: `columns` x `rows` tiles of the model's input size.
public struct TileGrid: Hashable, Sendable, Codable, CustomStringConvertible {
    public var columns: Int
    public var rows: Int

    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }

    public var tileCount: Int { columns * rows }
    public var aspectRatio: Double { Double(columns) / Double(rows) }
    public var description: String { "\(columns)x\(rows)" }
}

/// How a page is cut into tiles for an InternVL2 / H2OVL-Mississippi vision encoder.
public struct TilingConfiguration: Sendable, Hashable {
    /// Side of a square tile in pixels (448 for InternViT-300M-448px).
    public var tileSize: Int
    /// Fewest and most tiles in the (first-pass) grid.
    public var minTiles: Int
    public var maxTiles: Int
    /// Append the whole page resized to one tile when the grid has more than one tile.
    public var usesThumbnail: Bool
    /// H2OVL's multi-scale adaptive cropping (MSAC): a second grid of
    /// `msacMinTiles`...`maxTiles` tiles that does not divide the first one.
    public var usesMultiScale: Bool
    public var msacMinTiles: Int

    public init(tileSize: Int = 448, minTiles: Int = 1, maxTiles: Int = 12, usesThumbnail: Bool = true,
                usesMultiScale: Bool = false, msacMinTiles: Int = 3) {
        self.tileSize = tileSize
        self.minTiles = minTiles
        self.maxTiles = maxTiles
        self.usesThumbnail = usesThumbnail
        self.usesMultiScale = usesMultiScale
        self.msacMinTiles = msacMinTiles
    }

    /// InternVL2 model cards (up to 12 tiles).
    public static let internVL2 = TilingConfiguration(maxTiles: 12)
    /// H2OVL-Mississippi-0.8B: up to 6 tiles, no MSAC.
    public static let mississippi0_8B = TilingConfiguration(maxTiles: 6)
    /// H2OVL-Mississippi-2B: up to 6 tiles with MSAC.
    public static let mississippi2B = TilingConfiguration(maxTiles: 6, usesMultiScale: true)
}

/// The grids chosen for one page, in the order their tiles are fed to the model.
public struct TilePlan: Sendable, Hashable, Codable {
    /// MSAC: the second-pass grid first, then the first-pass grid. Otherwise one grid.
    public var grids: [TileGrid]
    /// Tiles each grid contributes. Under MSAC a 1x1 pass contributes none
    /// (the reference drops each pass's last image, which for a 1x1 pass is its only tile).
    public var keptTiles: [Int]
    /// Whether a whole-page thumbnail tile comes last.
    public var hasThumbnail: Bool

    public var tileCount: Int { keptTiles.reduce(0, +) + (hasThumbnail ? 1 : 0) }
}

/// Chooses tile grids exactly as the InternVL2 / H2OVL reference preprocessing does.
public enum TilePlanner {
    /// Candidate grids with `minTiles ≤ columns·rows ≤ maxTiles`, in the reference's order.
    ///
    /// The reference builds a Python `set` of (i, j) tuples and sorts it by
    /// i·j with a stable sort, so grids with equal tile counts keep the set's
    /// iteration order, and that order decides exact aspect-ratio ties. We
    /// reproduce CPython's tuple hash and set layout to get the same order.
    public static func candidates(minTiles: Int, maxTiles: Int) -> [TileGrid] {
        var set = PythonTupleSet()
        if minTiles <= maxTiles {
            for n in max(minTiles, 1)...max(maxTiles, 1) {
                for i in 1...n {
                    for j in 1...n where i * j <= maxTiles && i * j >= minTiles {
                        set.insert(i, j)
                    }
                }
            }
        }
        // Swift's sort is not stable; sort by (count, set position) instead.
        return set.orderedElements().enumerated()
            .sorted { ($0.element.0 * $0.element.1, $0.offset) < ($1.element.0 * $1.element.1, $1.offset) }
            .map { TileGrid(columns: $0.element.0, rows: $0.element.1) }
    }

    /// The reference's `find_closest_aspect_ratio`: the closest aspect ratio
    /// wins; on an exact tie a later (larger) grid wins only when the image
    /// area exceeds half of the grid's pixel area. Returns 1x1 when there are no candidates.
    public static func closestGrid(width: Int, height: Int, candidates: [TileGrid], tileSize: Int) -> TileGrid {
        let aspect = Double(width) / Double(height)
        let area = Double(width * height)
        var bestDifference = Double.infinity
        var best = TileGrid(columns: 1, rows: 1)
        for grid in candidates {
            let difference = abs(aspect - grid.aspectRatio)
            if difference < bestDifference {
                bestDifference = difference
                best = grid
            } else if difference == bestDifference {
                if area > 0.5 * Double(tileSize) * Double(tileSize) * Double(grid.columns) * Double(grid.rows) {
                    best = grid
                }
            }
        }
        return best
    }

    /// The plan for a `width` x `height` page.
    public static func plan(width: Int, height: Int, configuration: TilingConfiguration) -> TilePlan {
        let size = configuration.tileSize
        let first = closestGrid(width: width, height: height,
                                candidates: candidates(minTiles: configuration.minTiles, maxTiles: configuration.maxTiles),
                                tileSize: size)
        guard configuration.usesMultiScale else {
            return TilePlan(grids: [first], keptTiles: [first.tileCount],
                            hasThumbnail: configuration.usesThumbnail && first.tileCount != 1)
        }
        // H2OVL MSAC: a second grid of msacMinTiles...maxTiles whose sides both
        // fail to divide the first grid's sides (1x1 when none qualifies). The
        // reference concatenates pass2[:-1] + pass1[:-1] + pass2[-1:]: each
        // pass loses its last image (its thumbnail, or its only tile), and the
        // second pass's last image, which is always the whole page at one tile, ends the list.
        let second = closestGrid(
            width: width, height: height,
            candidates: candidates(minTiles: configuration.msacMinTiles, maxTiles: configuration.maxTiles)
                .filter { first.columns % $0.columns != 0 && first.rows % $0.rows != 0 },
            tileSize: size)
        let kept = [second, first].map { $0.tileCount > 1 ? $0.tileCount : 0 }
        return TilePlan(grids: [second, first], keptTiles: kept, hasThumbnail: true)
    }
}

/// Just enough of CPython's `set` (3.8+) to reproduce the iteration order of a
/// set of small non-negative integer pairs: the xxHash-based tuple hash,
/// linear probing in runs of 9 with perturbation, and growth when 60% full.
struct PythonTupleSet {
    private var slots: [(hash: UInt64, value: (Int, Int))?] = Array(repeating: nil, count: 8)
    private var used = 0

    static func hash(_ a: Int, _ b: Int) -> UInt64 {
        let prime1: UInt64 = 11_400_714_785_074_694_791
        let prime2: UInt64 = 14_029_467_366_897_019_727
        let prime5: UInt64 = 2_870_177_450_012_600_261
        var acc = prime5
        for lane in [UInt64(a), UInt64(b)] {
            acc = acc &+ lane &* prime2
            acc = (acc << 31) | (acc >> 33)
            acc = acc &* prime1
        }
        acc = acc &+ (2 ^ (prime5 ^ 3_527_539))
        return acc == UInt64.max ? 1_546_275_796 : acc
    }

    /// Slot index where probing for `hash` first finds an empty slot (or the equal element).
    private static func probe(_ slots: [(hash: UInt64, value: (Int, Int))?], hash: UInt64,
                              matching value: (Int, Int)?) -> (index: Int, found: Bool) {
        let mask = UInt64(slots.count - 1)
        var i = hash & mask
        var perturb = hash
        while true {
            let probes = i + 9 <= mask ? 9 : 0
            for step in 0...probes {
                let index = Int(i) + step
                guard let entry = slots[index] else { return (index, false) }
                if let value, entry.hash == hash, entry.value == value { return (index, true) }
            }
            perturb >>= 5
            i = (i &* 5 &+ 1 &+ perturb) & mask
        }
    }

    mutating func insert(_ a: Int, _ b: Int) {
        let h = Self.hash(a, b)
        let (index, found) = Self.probe(slots, hash: h, matching: (a, b))
        if found { return }
        slots[index] = (h, (a, b))
        used += 1
        let mask = slots.count - 1
        if used * 5 >= mask * 3 {
            var size = 8
            let target = used > 50_000 ? used * 2 : used * 4
            while size <= target { size <<= 1 }
            var grown: [(hash: UInt64, value: (Int, Int))?] = Array(repeating: nil, count: size)
            for entry in slots.compactMap({ $0 }) {
                grown[Self.probe(grown, hash: entry.hash, matching: nil).index] = entry
            }
            slots = grown
        }
    }

    func orderedElements() -> [(Int, Int)] { slots.compactMap { $0?.value } }
}
