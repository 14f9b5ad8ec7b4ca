// A small PNG decoder (8-bit grey/RGB/RGBA, non-interlaced: what Chromium writes), so the
// journey can tell a rendered page from a blank one without any extra package.

import { inflateSync } from 'node:zlib';

/** The pixels of a PNG as { width, height, channels, data } (data: unfiltered bytes). */
export function decodePng(buffer) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!buffer.subarray(0, 8).equals(signature)) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    const body = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      const colourType = body[9];
      const interlace = body[12];
      channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType];
      if (depth !== 8 || !channels || interlace !== 0) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colourType}, interlace ${interlace}`);
      }
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const data = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? data[y * stride + x - channels] : 0;
      const b = y > 0 ? data[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? data[(y - 1) * stride + x - channels] : 0;
      let predictor;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = a; break;
        case 2: predictor = b; break;
        case 3: predictor = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new Error(`bad PNG filter ${filter} in row ${y}`);
      }
      data[y * stride + x] = (row[x] + predictor) & 0xff;
    }
  }
  return { width, height, channels, data };
}

/**
 * What a screenshot shows: its size, how many distinct colours, and the share of pixels that
 * differ from the most common colour (the page background).
 */
export function pngStats(buffer) {
  const { width, height, channels, data } = decodePng(buffer);
  const counts = new Map();
  for (let i = 0; i < data.length; i += channels) {
    let key = 0;
    for (let k = 0; k < Math.min(channels, 3); k++) key = key * 256 + data[i + k];
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const pixels = width * height;
  const background = Math.max(...counts.values());
  return { width, height, colours: counts.size, inked: (pixels - background) / pixels };
}
