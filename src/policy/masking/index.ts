export { maskEmail } from './email';
export { maskPhone } from './phone';
export { maskPostalAddress, countryOf, type AddressParts, type MaskedAddress } from './postal-address';
export { maskCard, cardBrand, type CardBrand, type MaskedCard } from './card';
