#!/usr/bin/env node
// Renders resources/icons/icon.svg into the installers' icons: icon.png (512 px, Linux and the
// window), icon.ico (16-256 px, Windows) and icon.icns (macOS), written beside the SVG.
// Run after changing the SVG (`node scripts/icons.mjs`); the outputs are committed so that
// packaging needs no image tools.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'resources', 'icons')
const svg = readFileSync(join(dir, 'icon.svg'))
const png = (px) =>
  sharp(svg, { density: Math.ceil((72 * px) / 64) })
    .resize(px, px)
    .png()
    .toBuffer()

// ICO: a directory of PNG images (allowed since Windows Vista), 256 px stored as size 0.
async function ico(sizes) {
  const images = await Promise.all(sizes.map(png))
  const head = Buffer.alloc(6 + 16 * sizes.length)
  head.writeUInt16LE(0, 0)
  head.writeUInt16LE(1, 2)
  head.writeUInt16LE(sizes.length, 4)
  let offset = head.length
  sizes.forEach((s, i) => {
    const e = 6 + 16 * i
    head.writeUInt8(s >= 256 ? 0 : s, e)
    head.writeUInt8(s >= 256 ? 0 : s, e + 1)
    head.writeUInt16LE(1, e + 4) // colour planes
    head.writeUInt16LE(32, e + 6) // bits per pixel
    head.writeUInt32LE(images[i].length, e + 8)
    head.writeUInt32LE(offset, e + 12)
    offset += images[i].length
  })
  return Buffer.concat([head, ...images])
}

// ICNS: 'icns' + length, then (type, length, PNG) entries: ic07 128, ic08 256, ic09 512, ic10 1024.
async function icns(entries) {
  const parts = await Promise.all(
    entries.map(async ([type, px]) => {
      const data = await png(px)
      const h = Buffer.alloc(8)
      h.write(type, 0, 'ascii')
      h.writeUInt32BE(8 + data.length, 4)
      return Buffer.concat([h, data])
    })
  )
  const body = Buffer.concat(parts)
  const h = Buffer.alloc(8)
  h.write('icns', 0, 'ascii')
  h.writeUInt32BE(8 + body.length, 4)
  return Buffer.concat([h, body])
}

writeFileSync(join(dir, 'icon.png'), await png(512))
writeFileSync(join(dir, 'icon.ico'), await ico([16, 24, 32, 48, 64, 128, 256]))
writeFileSync(
  join(dir, 'icon.icns'),
  await icns([
    ['ic07', 128],
    ['ic08', 256],
    ['ic09', 512],
    ['ic10', 1024]
  ])
)
console.log('icons written to resources/icons: icon.png, icon.ico, icon.icns')
