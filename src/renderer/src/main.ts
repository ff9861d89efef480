import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { registerCharts } from './charts'
import { provideApi } from './api'
import './style.css'

registerCharts()
const app = createApp(App)
app.use(createPinia())
provideApi(app)
app.mount('#app')
