/// One 448x448 tile cut from a page.
public struct Tile: Sendable {
    public enum Origin: Sendable, Hashable, Codable {
        /// Tile at (column, row) of grid number `grid` in the plan.
        case grid(grid: Int, column: Int, row: Int)
        /// The whole page resized to one tile.
        case thumbnail
    }

    public var origin: Origin
    public var image: PixelBuffer
}

/// Cuts pages into tiles exactly as InternVL2 / H2OVL-Mississippi do:
/// stretch-resize the page to the grid's size (bicubic, as Pillow), crop
/// row-major, append the thumbnail last.
public struct Tiler: Sendable {
    public var configuration: TilingConfiguration

    public init(configuration: TilingConfiguration = .internVL2) {
        self.configuration = configuration
    }

    public func plan(for image: PixelBuffer) -> TilePlan {
        TilePlanner.plan(width: image.width, height: image.height, configuration: configuration)
    }

    /// The tiles of a page, in model order. The page is converted to RGB first.
    public func tiles(of page: PixelBuffer) -> [Tile] {
        let rgb = page.rgb()
        let plan = plan(for: rgb)
        let size = configuration.tileSize
        var tiles: [Tile] = []
        tiles.reserveCapacity(plan.tileCount)
        for (index, grid) in plan.grids.enumerated() where plan.keptTiles[index] > 0 {
            let resized = BicubicResampler.resize(rgb, width: size * grid.columns, height: size * grid.rows)
            for i in 0..<grid.tileCount {
                let column = i % grid.columns, row = i / grid.columns
                tiles.append(Tile(origin: .grid(grid: index, column: column, row: row),
                                  image: resized.cropped(x: column * size, y: row * size, width: size, height: size)))
            }
        }
        if plan.hasThumbnail {
            tiles.append(Tile(origin: .thumbnail, image: BicubicResampler.resize(rgb, width: size, height: size)))
        }
        return tiles
    }
}

/// Per-channel normalisation of 8-bit RGB into the float input of a vision encoder.
public struct PixelNormalization: Sendable, Hashable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == 3 && std.count == 3, "RGB needs three means and three deviations")
        self.mean = mean
        self.std = std
    }

    /// torchvision's ImageNet statistics, used by InternViT.
    public static let imageNet = PixelNormalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// Channels-first (3 x H x W) floats: `(x / 255 - mean) / std`, computed in
    /// Float32 in the same order as torchvision's ToTensor + Normalize. The
    /// result depends only on the byte, so it is computed once per value.
    public func tensor(from image: PixelBuffer) -> [Float] {
        let rgb = image.rgb()
        let plane = rgb.width * rgb.height
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for v in 0..<256 { table[c * 256 + v] = (Float(v) / 255 - mean[c]) / std[c] }
        }
        var out = [Float](repeating: 0, count: 3 * plane)
        rgb.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                table.withUnsafeBufferPointer { table in
                    for i in 0..<plane {
                        dst[i] = table[Int(src[3 * i])]
                        dst[plane + i] = table[256 + Int(src[3 * i + 1])]
                        dst[2 * plane + i] = table[512 + Int(src[3 * i + 2])]
                    }
                }
            }
        }
        return out
    }
}
