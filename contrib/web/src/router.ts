/** Routes: guardians' H5 pages at /, the staff back office under /staff. One module per page. */
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { tokens } from './api/session'

const guardian: RouteRecordRaw[] = [
  { path: '', name: 'guide', component: () => import('./pages/guardian/GuidePage.vue'), meta: { title: '办事指南' } },
  { path: 'login', name: 'login', component: () => import('./pages/guardian/LoginPage.vue'), meta: { title: '统一身份认证登录' } },
  { path: 'signed-in', name: 'signed-in', component: () => import('./pages/guardian/AuthDonePage.vue'), meta: { title: '登录' } },
  { path: 'apply', name: 'apply', component: () => import('./pages/guardian/ApplyPage.vue'), meta: { title: '入学报名', guardian: true } },
  { path: 'mine', name: 'mine', component: () => import('./pages/guardian/MinePage.vue'), meta: { title: '我的报名', guardian: true } },
  { path: 'mine/:id', name: 'mine-detail', component: () => import('./pages/guardian/StatusPage.vue'), meta: { title: '办理进度', guardian: true } },
  { path: 'catchment', name: 'catchment', component: () => import('./pages/guardian/CatchmentPage.vue'), meta: { title: '学区查询' } },
  { path: 'lookup', name: 'lookup', component: () => import('./pages/guardian/LookupPage.vue'), meta: { title: '结果查询' } },
]

const staff: RouteRecordRaw[] = [
  { path: 'login', name: 'staff-login', component: () => import('./pages/staff/StaffLoginPage.vue'), meta: { title: '工作人员登录' } },
  { path: '', name: 'worklist', component: () => import('./pages/staff/WorkListPage.vue'), meta: { title: '工作台', staff: true } },
  { path: 'applications/:id', name: 'staff-detail', component: () => import('./pages/staff/DetailPage.vue'), meta: { title: '办件详情', staff: true } },
  { path: 'statistics', name: 'statistics', component: () => import('./pages/staff/StatisticsPage.vue'), meta: { title: '统计', staff: true } },
  { path: 'intake', name: 'intake', component: () => import('./pages/staff/CounterIntakePage.vue'), meta: { title: '窗口受理', staff: true } },
  { path: 'placement', name: 'placement', component: () => import('./pages/staff/PlacementPage.vue'), meta: { title: '派位与公布', staff: true } },
  { path: 'operations', name: 'operations', component: () => import('./pages/staff/OperationsPage.vue'), meta: { title: '失败短信与任务', staff: true } },
]

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', component: () => import('./pages/guardian/GuardianLayout.vue'), children: guardian },
    { path: '/staff', component: () => import('./pages/staff/StaffLayout.vue'), children: staff },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  if (to.meta.guardian && !tokens.guardian.value) return { name: 'login', query: { next: to.fullPath } }
  if (to.meta.staff && !tokens.staff.value) return { name: 'staff-login', query: { next: to.fullPath } }
  return true
})

router.afterEach((to) => {
  const title = typeof to.meta.title === 'string' ? to.meta.title : ''
  document.title = `${title ? `${title} - ` : ''}临空经济区义务教育入学`
})
