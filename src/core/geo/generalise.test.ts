import { describe, expect, it } from 'vitest'
import { generaliseLocation, type GeneralisableArea } from './generalise.ts'

const province: GeneralisableArea = { pcode: 'XA01', level: 1, areaDeg2: 8, repLat: 3, repLon: 2 }
const district: GeneralisableArea = { pcode: 'XA0102', level: 2, areaDeg2: 2.5, repLat: 2.2, repLon: 3 }
const neighbour: GeneralisableArea = { pcode: 'XA0101', level: 2, areaDeg2: 3, repLat: 3, repLon: 0.25 }

describe('generaliseLocation', () => {
  it('gives the representative point of the most precise area: the highest level, then the smallest', () => {
    const point = { lat: 2.1, lon: 2.9 }
    expect(generaliseLocation(point, [province, neighbour, district])).toEqual({ lat: 2.2, lon: 3, areaPcode: 'XA0102', level: 2 })
    expect(generaliseLocation(point, [province])).toEqual({ lat: 3, lon: 2, areaPcode: 'XA01', level: 1 })
  })

  it('is stable on a shared border: equal areas go to the lower pcode', () => {
    const twin = { ...district, pcode: 'XA0100', repLon: 1 }
    expect(generaliseLocation({ lat: 2, lon: 2 }, [district, twin])!.areaPcode).toBe('XA0100')
    expect(generaliseLocation({ lat: 2, lon: 2 }, [twin, district])!.areaPcode).toBe('XA0100')
  })

  it('shows no point without a point or without a known area', () => {
    expect(generaliseLocation(null, [province])).toBeNull()
    expect(generaliseLocation({ lat: 50, lon: 50 }, [])).toBeNull()
  })

  it('never passes the input point through', () => {
    for (let i = 0; i < 50; i++) {
      const point = { lat: 2 + Math.random() * 2, lon: Math.random() * 4 }
      const out = generaliseLocation(point, [province, district])!
      expect([out.lat, out.lon]).not.toEqual([point.lat, point.lon])
      expect(out).toEqual({ lat: district.repLat, lon: district.repLon, areaPcode: district.pcode, level: 2 })
    }
  })
})
