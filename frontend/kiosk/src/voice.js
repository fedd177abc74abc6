// Short spoken prompts for the elderly (speechSynthesis, zh-CN), with a mute switch remembered by the kiosk.
import { reactive } from 'vue'

const KEY = 'kiosk.muted'
export const voice = reactive({ muted: localStorage.getItem(KEY) === '1', available: 'speechSynthesis' in window })

export function say(text) {
  if (voice.muted || !voice.available) return
  try {
    window.speechSynthesis.cancel()
    const utterance = new SpeechSynthesisUtterance(text)
    utterance.lang = 'zh-CN'
    utterance.rate = 0.9
    window.speechSynthesis.speak(utterance)
  } catch {
    // no voice installed: the screen says the same
  }
}

export function toggleMute() {
  voice.muted = !voice.muted
  localStorage.setItem(KEY, voice.muted ? '1' : '0')
  if (voice.muted && voice.available) window.speechSynthesis.cancel()
}
