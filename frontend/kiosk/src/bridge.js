// The kiosk's hardware, reached through window.KioskBridge, which the kiosk shell (the WebView host) provides:
//
//   KioskBridge.readIdCard()        → Promise<{ id_number, name }>      the ID card's chip (居民身份证)
//   KioskBridge.readInsuranceCard() → Promise<{ card_number, ssn }>     the social insurance card (社保卡)
//   KioskBridge.print(html)         → Promise<void>                     a complete HTML page to the printer
//                                                                        (80 mm thermal or A4, as rendered)
//   A read the person abandons rejects with an Error whose message is 'cancelled'.
//
// Without a host (the demo, a desktop browser) a stand-in asks for the numbers on screen (DemoCardReader.vue) and
// "prints" by dispatching a `kioskbridge:print` event ({ detail: { html } }) on window.
import { reactive } from 'vue'

export const demoReader = reactive({ kind: null, resolve: null, reject: null, printed: 0 })

function ask(kind) {
  return new Promise((resolve, reject) => Object.assign(demoReader, { kind, resolve, reject }))
}

const demoBridge = {
  demo: true,
  readIdCard: () => ask('id_card'),
  readInsuranceCard: () => ask('insurance_card'),
  async print(html) {
    demoReader.printed += 1
    window.dispatchEvent(new CustomEvent('kioskbridge:print', { detail: { html } }))
  },
}

export function bridge() {
  return window.KioskBridge || demoBridge
}
