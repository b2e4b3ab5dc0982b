const LEI_SHAPE = /^[0-9A-Z]{18}[0-9]{2}$/

/**
 * ISO 17442 check: letters count as 10..35 and the 20-character number is 1 modulo 97 (ISO 7064 MOD 97-10).
 * Nine digits at a time keep every intermediate value inside exact double precision.
 */
export function isValidLei (lei: string): boolean {
  if (!LEI_SHAPE.test(lei)) return false
  const digits = [...lei].map((ch) => parseInt(ch, 36)).join('')
  let remainder = 0
  for (let i = 0; i < digits.length; i += 9) {
    remainder = Number(`${remainder}${digits.slice(i, i + 9)}`) % 97
  }
  return remainder === 1
}
